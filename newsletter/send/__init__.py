"""Send: plan the ledger, claim batches, hand them to a provider, record every result."""

from .copies import send_test
from .loop import (
    NotDue,
    SendBusy,
    SendInterrupted,
    SendOptions,
    SendStopped,
    SendSummary,
    render_checked,
    send_issue,
    send_rendered,
)

__all__ = [
    "NotDue", "SendBusy", "SendInterrupted", "SendOptions", "SendStopped", "SendSummary", "render_checked",
    "send_issue", "send_rendered", "send_test",
]
