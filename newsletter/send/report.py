"""What happened to an issue's deliveries, from the ledger."""

from __future__ import annotations

import datetime as dt

from ..config import Settings
from ..issue import find_issue, load_issue
from ..store.engine import connect
from ..store.ledger import Ledger

ORDER = ("queued", "sending", "sent", "delivered", "opened", "clicked", "failed", "in_doubt", "skipped",
         "bounced", "complained")


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite gives back naive UTC
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.isoformat()


def report(issue_name: str, settings: Settings, limit: int | None = None) -> dict:
    """Counts per status, failures with their errors, in-doubt rows, when, and how fast.

    ``limit`` cuts the failed and in-doubt lists (the counts always say how many there are);
    None lists them all.
    """
    issue = load_issue(find_issue(issue_name, settings), settings)
    engine = connect(settings)
    try:
        ledger = Ledger(engine, issue.id)
        counts = ledger.counts()
        failures = ledger.rows(["failed"], limit)
        in_doubt = ledger.rows(["in_doubt"], limit)
        first, last = ledger.window()
    finally:
        engine.dispose()
    sent = sum(counts.get(s, 0) for s in ("sent", "delivered", "opened", "clicked", "bounced", "complained"))
    seconds = (last - first).total_seconds() if first and last else 0.0
    return {
        "issue": issue.id,
        "subject": issue.subject,
        "total": sum(counts.values()),
        "counts": {status: counts[status] for status in ORDER if status in counts},
        "started": _iso(first),
        "finished": _iso(last),
        "rate_per_second": round(sent / seconds, 1) if seconds > 0 else None,
        "failures": [{"email": r["email"], "error": r["last_error"], "attempts": r["attempts"]} for r in failures],
        "in_doubt": [{"email": r["email"], "note": r["last_error"]} for r in in_doubt],
    }
