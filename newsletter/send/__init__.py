"""Send: plan the ledger, claim batches, hand them to a provider, record every result."""

from .loop import SendOptions, SendStopped, SendSummary, send_issue, send_test

__all__ = ["SendOptions", "SendStopped", "SendSummary", "send_issue", "send_test"]
