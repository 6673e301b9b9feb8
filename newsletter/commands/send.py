"""``newsletter send``: the send loop with a progress display."""

from __future__ import annotations

import threading

from ..config import Settings
from ..send import SendInterrupted, SendOptions, SendSummary, send_issue, send_test

__all__ = ["SendInterrupted", "SendOptions", "SendSummary", "send", "send_test"]


def send(issue_name: str, settings: Settings, options: SendOptions, progress=None,
         stop: threading.Event | None = None, workers: bool = False) -> SendSummary:
    """``workers``: plan here and let the send workers drain it (PostgreSQL; :mod:`newsletter.workers`)."""
    if workers:
        from ..workers import send_with_workers

        return send_with_workers(issue_name, settings, options, progress=progress, stop=stop)
    return send_issue(issue_name, settings, options, progress=progress, stop=stop)
