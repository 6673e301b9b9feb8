"""What happened to an issue's deliveries, from the ledger and the provider's events."""

from __future__ import annotations

import datetime as dt

from ..config import Settings
from ..issue import find_issue, load_issue
from ..store.engine import connect
from ..store.events import EventLog, slot_of
from ..store.ledger import Ledger

#: What the report counts from provider events: report name → event type.
ENGAGEMENT = {"delivered": "delivered", "bounced": "bounce", "dropped": "dropped", "complained": "spamreport",
              "opened": "open", "clicked": "click", "unsubscribed": "unsubscribe"}
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
        events = EventLog(engine).summary(issue.id)
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
        # Deliveries with at least one such event (``events``: how many events, repeats included).
        "engagement": {
            name: {"deliveries": events["events"].get(kind, {}).get("unique", 0),
                   "events": events["events"].get(kind, {}).get("events", 0)}
            for name, kind in ENGAGEMENT.items()
        },
        "clicks_by_slot": _clicks_by_slot(issue, events["clicks"]),
    }


def _clicks_by_slot(issue, clicks: list[dict]) -> list[dict]:
    """Clicks rolled up by the ``utm_content`` of the clicked link: one entry per item of the
    issue, in order, and one for links without a slot (the footer, links inside excerpts)."""
    slots = {item.slot: {"slot": item.slot, "article": item.article.slug, "title": item.title, "clicks": 0,
                         "readers": 0} for item in issue.items}
    other = {"slot": None, "article": None, "title": "other links", "clicks": 0, "readers": 0}
    for row in clicks:
        entry = slots.get(slot_of(row["url"]) or "", other)
        entry["clicks"] += row["clicks"]
        entry["readers"] += row["unique"]  # a reader who clicked two links of one slot counts twice
    return [*slots.values(), *([other] if other["clicks"] else [])]
