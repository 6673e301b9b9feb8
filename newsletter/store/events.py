"""Provider events: kept as they came (once per event id), and what they teach the ledger.

SendGrid repeats events, sometimes dozens of times, so each is stored once, keyed by its
``sg_event_id``, and only an event stored for the first time has an effect. Events find their
ledger row through the ``issue`` and ``subscriber`` custom args of the message (the address must
match too: SQLite can give an erased subscriber's id to someone new). An event for no known row is
kept all the same.

What an event does to its ledger row: any event proves the message was accepted, so a row still
``queued``, ``sending`` or ``in_doubt`` becomes at least ``sent`` (issue 9: in-doubt rows resolved
by the provider's own word). Beyond that a row only moves up: sent → delivered → opened → clicked,
and bounced or complained above all. ``dropped`` and a ``blocked`` bounce mean it never arrived:
``failed``, with the reason. ``bounce`` (hard), ``dropped``, ``spamreport``, ``unsubscribe`` and
``group_unsubscribe`` also suppress the address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Connection, Engine, bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .models import SUPPRESSED, Delivery, ProviderEvent, Subscriber, utcnow
from .suppression import AddressHash, add_suppressions

D = Delivery.__table__
E = ProviderEvent.__table__
S = Subscriber.__table__

#: Ledger status an event moves a row to, and how far up that is.
EVENT_STATUS = {
    "processed": "sent", "deferred": "sent", "delivered": "delivered", "open": "opened", "click": "clicked",
    "bounce": "bounced", "dropped": "failed", "spamreport": "complained",
}
RANK = {"sent": 1, "failed": 1.5, "delivered": 2, "opened": 3, "clicked": 4, "bounced": 5, "complained": 6}
#: Statuses that say nothing about whether the message left: any event overrides them. (A row
#: our send marked ``failed`` was refused by the provider: no event comes for it.)
UNSENT = ("queued", "sending", "in_doubt", "skipped")
#: Events that suppress the address, and as what (the strongest wins).
SUPPRESSING = {"spamreport": "complained", "bounce": "bounced", "dropped": "bounced",
               "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed"}
STRENGTH = {"unsubscribed": 1, "bounced": 2, "complained": 3}
MAX_INT = 2**31 - 1


class BadEvents(ValueError):
    """The body is not a JSON array of event objects."""


@dataclass
class Ingested:
    """What one webhook delivery did."""

    received: int = 0
    #: Events stored for the first time (the rest were repeats).
    new: int = 0
    #: New events matched to a ledger row.
    matched: int = 0
    #: Ledger rows whose status changed.
    updated: int = 0
    #: Addresses suppressed.
    suppressed: int = 0


@dataclass
class _Event:
    raw: dict[str, Any]
    event_id: str
    event: str
    issue_id: str | None
    subscriber_id: int | None
    email: str
    occurred_at: dt.datetime | None
    delivery_id: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def target(self) -> str | None:
        if self.event == "bounce" and str(self.raw.get("type", "bounce")) == "blocked":
            return "failed"
        return EVENT_STATUS.get(self.event)

    @property
    def suppresses(self) -> str | None:
        if self.event == "bounce" and str(self.raw.get("type", "bounce")) == "blocked":
            return None
        return SUPPRESSING.get(self.event)

    def reason(self) -> str:
        detail = self.raw.get("reason") or self.raw.get("response") or self.raw.get("type") or ""
        return f"SendGrid {self.event}" + (f": {detail}" if detail else "")


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """The event objects of a webhook body; :class:`BadEvents` unless it is a JSON array of objects."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEvents(f"not JSON: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise BadEvents("expected a JSON array of event objects")
    return data


def _event(raw: dict[str, Any]) -> _Event:
    event_id = str(raw.get("sg_event_id") or "")[:200]
    if not event_id:  # none should lack one; identical repeats still collapse into one
        event_id = "sha256:" + hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    subscriber = str(raw.get("subscriber", ""))
    stamp = raw.get("timestamp")
    occurred = None
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) and 0 <= stamp < 32503680000:
        occurred = dt.datetime.fromtimestamp(stamp, dt.timezone.utc)
    return _Event(
        raw=raw, event_id=event_id, event=str(raw.get("event", ""))[:40],
        issue_id=str(raw["issue"])[:200] if raw.get("issue") is not None else None,
        subscriber_id=int(subscriber) if subscriber.isascii() and subscriber.isdigit() and int(subscriber) <= MAX_INT else None,
        email=str(raw.get("email", "")).strip().lower(), occurred_at=occurred,
    )


class EventLog:
    """Provider events over one database."""

    def __init__(self, engine: Engine, address_hash: AddressHash | None = None):
        self.engine = engine
        self.hash = address_hash

    def ingest(self, events: Sequence[dict[str, Any]], provider: str = "sendgrid") -> Ingested:
        """Store a webhook delivery's events and apply the new ones, all in one transaction."""
        result = Ingested(received=len(events))
        unique: dict[str, _Event] = {}
        for raw in events:
            parsed = _event(raw)
            unique.setdefault(parsed.event_id, parsed)
        now = utcnow()
        with self.engine.begin() as conn:
            known: set[str] = set()
            ids = list(unique)
            for start in range(0, len(ids), 500):
                known.update(conn.scalars(select(E.c.event_id).where(
                    E.c.provider == provider, E.c.event_id.in_(ids[start:start + 500]))))
            fresh = [e for e in unique.values() if e.event_id not in known]
            if not fresh:
                return result
            self._match(conn, fresh)
            insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
            stored = set(conn.scalars(
                insert(E).on_conflict_do_nothing().returning(E.c.event_id),
                [{"provider": provider, "event_id": e.event_id, "event": e.event, "issue_id": e.issue_id,
                  "subscriber_id": e.subscriber_id, "delivery_id": e.delivery_id,
                  "url": str(e.raw["url"]) if e.event == "click" and e.raw.get("url") else None,
                  "occurred_at": e.occurred_at, "received_at": now, "payload": e.raw} for e in fresh],
            ))
            fresh = [e for e in fresh if e.event_id in stored]  # another request stored the rest
            result.new = len(fresh)
            result.matched = sum(1 for e in fresh if e.delivery_id is not None)
            result.updated = _update_ledger(conn, fresh, now)
            result.suppressed = self._suppress(conn, fresh, now)
        return result

    def _match(self, conn: Connection, events: list[_Event]) -> None:
        """Find each event's ledger row by (issue, subscriber), the address agreeing."""
        wanted: dict[str, set[int]] = {}
        for e in events:
            if e.issue_id is not None and e.subscriber_id is not None:
                wanted.setdefault(e.issue_id, set()).add(e.subscriber_id)
        rows: dict[tuple[str, int], tuple[int, str | None]] = {}
        for issue_id, subscriber_ids in wanted.items():
            ids = sorted(subscriber_ids)
            for start in range(0, len(ids), 500):
                for row in conn.execute(select(D.c.id, D.c.subscriber_id, D.c.email).where(
                        D.c.issue_id == issue_id, D.c.subscriber_id.in_(ids[start:start + 500]))):
                    rows[(issue_id, row.subscriber_id)] = (row.id, (row.email or "").lower())
        for e in events:
            found = rows.get((e.issue_id, e.subscriber_id)) if e.subscriber_id is not None else None
            if found and (not e.email or e.email == found[1]):
                e.delivery_id = found[0]

    def _suppress(self, conn: Connection, events: list[_Event], now: dt.datetime) -> int:
        """Subscribers that bounced, complained or unsubscribed at the provider leave, by id
        (the address agreeing) or else by address; addresses with no row go on the list too."""
        reasons: dict[str, str] = {}  # email → strongest reason
        for e in sorted(events, key=lambda e: e.occurred_at or now):
            reason = e.suppresses
            if reason and e.email and STRENGTH[reason] > STRENGTH.get(reasons.get(e.email, ""), 0):
                reasons[e.email] = reason
        if not reasons:
            return 0
        emails = list(reasons)
        found: dict[str, tuple[int, str, str | None]] = {}
        for start in range(0, len(emails), 500):
            for row in conn.execute(select(S.c.id, S.c.email_key, S.c.status, S.c.email_hash)
                                    .where(S.c.email_key.in_(emails[start:start + 500]))):
                found[row.email_key] = (row.id, row.status, row.email_hash)
        changes = [{"sid": found[m][0], "status": r} for m, r in reasons.items()
                   if m in found and found[m][1] not in SUPPRESSED]
        if changes:
            conn.execute(update(S).where(S.c.id == bindparam("sid")).values(
                status=bindparam("status"), unsubscribed_at=now, updated_at=now), changes)
        if self.hash is not None:
            entries = [((found[m][2] if m in found and found[m][2] else self.hash(m)), r) for m, r in reasons.items()]
            add_suppressions(conn, entries, "sendgrid")
        return len(changes)

    # --- reading --------------------------------------------------------------------------

    def summary(self, issue_id: str) -> dict[str, Any]:
        """Per event type: how many events and how many distinct deliveries; clicks per link."""
        with self.engine.connect() as conn:
            by_event = {
                event: {"events": n, "unique": unique}
                for event, n, unique in conn.execute(
                    select(E.c.event, func.count(), func.count(func.distinct(E.c.delivery_id)))
                    .where(E.c.issue_id == issue_id).group_by(E.c.event))
            }
            clicks = [
                {"url": url, "clicks": n, "unique": unique}
                for url, n, unique in conn.execute(
                    select(E.c.url, func.count(), func.count(func.distinct(E.c.delivery_id)))
                    .where(E.c.issue_id == issue_id, E.c.event == "click").group_by(E.c.url).order_by(E.c.url))
            ]
        return {"events": by_event, "clicks": clicks}


def slot_of(url: str | None) -> str | None:
    """The ``utm_content`` of a link: the article slot it sits in (``<article>-<section>-<item>``)."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("utm_content")
    return values[0] if values else None


def _update_ledger(conn: Connection, events: list[_Event], now: dt.datetime) -> int:
    """Move each matched row to the highest status its new events prove; rows only move up."""
    best: dict[int, _Event] = {}
    for e in events:
        target = e.target
        if e.delivery_id is None or target is None:
            continue
        current = best.get(e.delivery_id)
        if current is None or RANK[target] > RANK[current.target]:
            best[e.delivery_id] = e
    by_target: dict[str, list[dict]] = {}
    for delivery_id, e in best.items():
        note = e.reason() if e.target in ("failed", "bounced", "complained") else None
        resolved = f"was in doubt; SendGrid's {e.event} event shows it was accepted" + (f" ({note})" if note else "")
        by_target.setdefault(e.target, []).append(
            {"did": delivery_id, "at": e.occurred_at or now, "note": note, "resolved": resolved})
    changed = 0
    for target, params in by_target.items():
        lower = [*UNSENT, *(s for s, r in RANK.items() if r < RANK[target])]
        result = conn.execute(
            # (an IN list would be an "expanding" parameter, which executemany cannot take)
            update(D).where(D.c.id == bindparam("did"), or_(*(D.c.status == s for s in lower))).values(
                status=target, sent_at=func.coalesce(D.c.sent_at, bindparam("at", type_=D.c.sent_at.type)),
                last_error=case((D.c.status == "in_doubt", bindparam("resolved")), else_=bindparam("note")),
                updated_at=now),
            params,
        )
        changed += max(result.rowcount or 0, 0)
    # A deferral changes no status, but says why a sent message has not arrived yet.
    deferred = [{"did": e.delivery_id, "note": e.reason()} for e in events
                if e.event == "deferred" and e.delivery_id is not None]
    if deferred:
        conn.execute(update(D).where(D.c.id == bindparam("did"), D.c.status == "sent").values(
            last_error=bindparam("note"), updated_at=now), deferred)
    return changed
