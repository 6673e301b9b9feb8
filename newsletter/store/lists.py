"""Lists: their names and counts, and what an editor does to them (rename, delete, take a member
off). A :class:`~newsletter.store.store.Store` mixin; adding members is the upsert's work."""

from __future__ import annotations

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from .models import MailingList, Membership, Subscriber


class ListQueries:
    """Queries on lists and memberships; each method is one transaction."""

    engine: Engine

    def list_names(self) -> list[str]:
        with Session(self.engine) as session:
            return list(session.scalars(select(MailingList.name).order_by(MailingList.name)))

    def list_counts(self) -> dict[str, dict[str, int]]:
        """Every list → subscriber count by status (lists with nobody on them included)."""
        with Session(self.engine) as session:
            counts: dict[str, dict[str, int]] = {name: {} for name in session.scalars(
                select(MailingList.name).order_by(MailingList.name)
            )}
            query = (
                select(MailingList.name, Subscriber.status, func.count())
                .join(Membership, Membership.list_id == MailingList.id)
                .join(Subscriber, Subscriber.id == Membership.subscriber_id)
                .group_by(MailingList.name, Subscriber.status)
            )
            for name, status, n in session.execute(query):
                counts[name][status] = n
            return counts

    def rename_list(self, old: str, new: str) -> bool:
        """Rename a list (memberships stay); False when there is no list ``old``."""
        with Session(self.engine) as session, session.begin():
            return session.execute(update(MailingList).where(MailingList.name == old).values(name=new)).rowcount > 0

    def delete_list(self, name: str) -> int | None:
        """Delete a list and its memberships (the subscribers stay); the memberships removed, or
        None when there is no such list."""
        with Session(self.engine) as session, session.begin():
            list_id = session.scalar(select(MailingList.id).where(MailingList.name == name))
            if list_id is None:
                return None
            removed = session.execute(delete(Membership).where(Membership.list_id == list_id)).rowcount
            session.execute(delete(MailingList).where(MailingList.id == list_id))
            return removed

    def remove_from_list(self, name: str, keys: list[str]) -> set[str]:
        """Take subscribers (lowercased addresses) off a list; the keys that were on it."""
        with Session(self.engine) as session, session.begin():
            list_id = session.scalar(select(MailingList.id).where(MailingList.name == name))
            members = dict(session.execute(
                select(Subscriber.email_key, Subscriber.id)
                .join(Membership, Membership.subscriber_id == Subscriber.id)
                .where(Membership.list_id == list_id, Subscriber.email_key.in_(keys))
            ).all())
            if members:
                session.execute(delete(Membership).where(Membership.list_id == list_id,
                                                         Membership.subscriber_id.in_(list(members.values()))))
            return set(members)
