"""Consent: what the subscribe form, the confirmation link, unsubscribe, preferences and erasure do
to the store.

A :class:`~newsletter.store.store.Store` mixin. Double opt-in: the form creates (or finds) a
``pending`` row and the confirmation link makes it ``confirmed``; a confirmed address is never
changed by the form, so nobody can alter someone else's subscription by typing their address.
An address that left (its row suppressed, or its hash on the suppression list after an erasure)
can come back only this way, and confirming takes it off the list.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from .models import SUPPRESSED, Delivery, Membership, ProviderEvent, Subscriber, fold_list_name, utcnow
from .suppression import add_suppressions, lift_suppressions


@dataclass(frozen=True)
class Signup:
    """What the subscribe form did: ``pending`` (a confirmation mail is due) or ``confirmed``
    (already subscribed: nothing changed, no mail)."""

    subscriber_id: int
    email_key: str
    status: str


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite gives back naive UTC
        return value.replace(tzinfo=dt.timezone.utc)
    return value


class ConsentQueries:
    """Subscribe, confirm, unsubscribe, preferences, suppress and erase; each one transaction."""

    def email_key_of(self, subscriber_id: int) -> str | None:
        """The lowercased address of a subscriber id (what link tokens are signed over)."""
        with self.engine.connect() as conn:
            return conn.scalar(select(Subscriber.email_key).where(Subscriber.id == subscriber_id))

    def subscriber_by_id(self, subscriber_id: int):
        with Session(self.engine) as session:
            sub = session.get(Subscriber, subscriber_id)
            return None if sub is None else self._rows(session, [sub])[0]

    def subscribe(self, email: str, key: str, name: str, lists: list[str], source: str = "web") -> Signup:
        """A subscribe form was sent. A new address becomes ``pending``; a pending or departed one
        gets the name and lists it asked for (it is not mailed before it confirms); a confirmed
        one is left exactly as it is."""
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            sub = session.scalar(select(Subscriber).where(Subscriber.email_key == key))
            if sub is not None and sub.status == "confirmed":
                return Signup(sub.id, key, "confirmed")
            if sub is None:
                sub_id = session.execute(insert(Subscriber).returning(Subscriber.id), [{
                    "email": email, "email_key": key, "email_hash": self.hash(key), "name": name,
                    "status": "pending", "attributes": {}, "source": source, "created_at": now, "updated_at": now,
                }]).scalar_one()
                have: set[int] = set()
            else:
                sub_id = sub.id
                if name and name != sub.name:
                    sub.name, sub.updated_at = name, now
                have = set(session.scalars(select(Membership.list_id).where(Membership.subscriber_id == sub_id)))
            wanted = self._ensure_lists(session, set(lists))
            new = [{"subscriber_id": sub_id, "list_id": i} for i in wanted.values() if i not in have]
            if new:
                session.execute(insert(Membership), new)
            return Signup(sub_id, key, "pending")

    def confirm(self, subscriber_id: int, issued_at: dt.datetime) -> str:
        """A confirmation link was followed: ``confirmed`` now, ``already`` confirmed, or ``stale``
        (the link was made before the subscriber last left, so it cannot bring them back)."""
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            sub = session.get(Subscriber, subscriber_id, with_for_update=True)
            if sub is None:
                return "stale"
            if sub.status == "confirmed":
                return "already"
            left = _aware(sub.unsubscribed_at)
            # Tokens carry whole seconds: one made in the second they left is taken as newer.
            if left is not None and issued_at < left.replace(microsecond=0):
                return "stale"
            sub.status, sub.confirmed_at, sub.unsubscribed_at, sub.updated_at = "confirmed", now, None, now
            lift_suppressions(session.connection(), [sub.email_hash or self.hash(sub.email_key)])
            return "confirmed"

    def unsubscribe(self, subscriber_id: int, source: str = "web") -> bool:
        """The subscriber leaves (from every list); True if they had not already. The address goes
        on the suppression list either way."""
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            sub = session.get(Subscriber, subscriber_id, with_for_update=True)
            if sub is None:
                return False
            changed = sub.status not in SUPPRESSED
            if changed:
                sub.status, sub.unsubscribed_at, sub.updated_at = "unsubscribed", now, now
            add_suppressions(session.connection(), [(sub.email_hash or self.hash(sub.email_key), sub.status)], source)
            return changed

    def suppress(self, keys: Iterable[str], reason: str = "unsubscribed", source: str = "cli") -> dict[str, int]:
        """Addresses that left: known subscribers get ``reason`` as their status (unless they
        already left), and every address goes on the suppression list, known or not, so a later
        import or form never adds it silently. Counts: ``changed``, ``already``, ``unknown``."""
        keys = list(dict.fromkeys(keys))
        counts = {"changed": 0, "already": 0, "unknown": 0}
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                status_of = dict(session.execute(
                    select(Subscriber.email_key, Subscriber.status).where(Subscriber.email_key.in_(chunk))
                ).all())
                moving = [k for k, s in status_of.items() if s not in SUPPRESSED]
                if moving:
                    session.execute(update(Subscriber).where(Subscriber.email_key.in_(moving)).values(
                        status=reason, unsubscribed_at=now, updated_at=now))
                counts["changed"] += len(moving)
                counts["already"] += len(status_of) - len(moving)
                counts["unknown"] += len(chunk) - len(status_of)
                reasons = {k: (status_of[k] if status_of.get(k) in SUPPRESSED else reason) for k in chunk}
                add_suppressions(session.connection(), [(self.hash(k), r) for k, r in reasons.items()], source)
        return counts

    def erase_subscriber(self, key: str) -> bool:
        """Delete a subscriber and their memberships; their ledger rows and events keep no
        personal data, only the keyed hash. The address goes on the suppression list."""
        digest = self.hash(key)
        with Session(self.engine) as session, session.begin():
            sub = session.execute(
                select(Subscriber.id, Subscriber.status).where(Subscriber.email_key == key)
            ).one_or_none()
            if sub is None:
                return False
            session.execute(
                update(Delivery)
                .where(Delivery.subscriber_id == sub.id)
                .values(email=None, subscriber_id=None, email_hash=digest, updated_at=utcnow())
            )
            for event in session.scalars(select(ProviderEvent).where(ProviderEvent.subscriber_id == sub.id)):
                event.payload = _without_personal_data(event.payload)
                event.subscriber_id = None
            session.execute(delete(Membership).where(Membership.subscriber_id == sub.id))
            session.execute(delete(Subscriber).where(Subscriber.id == sub.id))
            reason = sub.status if sub.status in SUPPRESSED else "removed"
            add_suppressions(session.connection(), [(digest, reason)], "remove")
            return True

    def save_preferences(self, subscriber_id: int, name: str, lists: list[str], offered: list[str]) -> None:
        """Set the name and which of the ``offered`` lists the subscriber is on; memberships of
        lists not offered are left alone."""
        with Session(self.engine) as session, session.begin():
            sub = session.get(Subscriber, subscriber_id)
            if sub is None:
                return
            if name != sub.name:
                sub.name, sub.updated_at = name, utcnow()
            ids = self._ensure_lists(session, set(offered))
            chosen = {ids[fold_list_name(n)] for n in lists if fold_list_name(n) in ids}
            have = set(session.scalars(select(Membership.list_id).where(Membership.subscriber_id == subscriber_id)))
            drop = (set(ids.values()) - chosen) & have
            if drop:
                session.execute(delete(Membership).where(
                    Membership.subscriber_id == subscriber_id, Membership.list_id.in_(drop)))
            add = chosen - have
            if add:
                session.execute(insert(Membership), [{"subscriber_id": subscriber_id, "list_id": i} for i in add])
            if drop or add:
                sub.updated_at = utcnow()


#: What an event keeps once its subscriber is erased: nothing that names or locates a person.
_EVENT_KEYS_KEPT = ("event", "timestamp", "sg_event_id", "sg_message_id", "issue", "type", "category")


def _without_personal_data(payload: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (payload or {}).items() if k in _EVENT_KEYS_KEPT}
