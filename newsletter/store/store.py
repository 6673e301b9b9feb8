"""The only module that queries the store: subscribers, lists, memberships and ledger rows.

Callers get plain values back (:class:`SubscriberRow`, counts), never live ORM objects, so no
session leaks out of here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, exists, func, insert, select, update
from sqlalchemy.orm import Session

from .bulk import Bulk, Known
from .consent import ConsentQueries
from .events import EventLog
from .lists import ListQueries
from .models import SUPPRESSED, Delivery, MailingList, Membership, Subscriber, fold_list_name, utcnow
from .suppression import AddressHash, add_suppressions, lift_suppressions

#: Ledger statuses of deliveries that never reached a provider.
NOT_HANDED_OVER = ("queued", "failed", "skipped")
# Keys per IN (...) query: far below every database's limit on bound parameters.
_CHUNK = 500


@dataclass(slots=True)
class NewSubscriber:
    """An address to add or update, already validated and normalized."""

    email: str
    #: ``email`` lowercased: what makes an address unique.
    key: str
    name: str = ""
    lists: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    #: Where it came from, for the record: ``FILE:ROW`` or ``cli``.
    line: int | None = None
    #: The status the source gives (a ``status`` column: an export, a provider's suppression
    #: export), if any. One of ``unsubscribed``, ``bounced``, ``complained`` suppresses the
    #: address; otherwise see :func:`status_for`.
    status: str | None = None
    #: Consent times the source gives (an export's columns), kept instead of "now".
    confirmed_at: dt.datetime | None = None
    unsubscribed_at: dt.datetime | None = None


@dataclass
class UpsertCounts:
    """What an upsert did, address by address."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Suppressed (unsubscribed, bounced, complained, erased) addresses left alone.
    kept_out: int = 0
    #: The addresses kept out, for reporting.
    kept_out_keys: list[str] = field(default_factory=list)
    #: Addresses the source marked as gone (``status`` unsubscribed, bounced, complained), now
    #: suppressed; also counted as added or updated when a row changed.
    suppressed: int = 0

    def __iadd__(self, other: "UpsertCounts") -> "UpsertCounts":
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.kept_out += other.kept_out
        self.kept_out_keys += other.kept_out_keys
        self.suppressed += other.suppressed
        return self


@dataclass
class SubscriberRow:
    """A subscriber as read from the store."""

    id: int
    email: str
    name: str
    status: str
    lists: list[str]
    attributes: dict[str, Any]
    confirmed_at: dt.datetime | None = None
    unsubscribed_at: dt.datetime | None = None


#: How far from being mailed a status is: an import may move someone further, never closer.
_DISTANCE = {"confirmed": 0, "pending": 1, "unsubscribed": 2, "bounced": 2, "complained": 2}


def status_for(row_status: str | None, default: str) -> str:
    """The status an imported row ends up with: the import's own (``--status``), unless the row
    says something stricter. A file can hold someone back (a pending row stays pending), never
    promote them past what the import was asked to do."""
    if row_status is None:
        return default
    return max(row_status, default, key=_DISTANCE.__getitem__)


def _chunks(items: list, size: int = _CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Store(ConsentQueries, ListQueries):
    """Queries over one database. Each public method is one transaction.

    ``address_hash`` keys the hashes that the suppression list and the ledger keep of addresses.
    """

    def __init__(self, engine: Engine, address_hash: AddressHash):
        self.engine = engine
        self.hash = address_hash

    def close(self) -> None:
        self.engine.dispose()

    @property
    def events(self) -> EventLog:
        """Provider events (the SendGrid webhook) and what they do to the ledger."""
        return EventLog(self.engine, self.hash)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- subscribers ------------------------------------------------------------------------

    def upsert_subscribers(
        self,
        rows: list[NewSubscriber],
        *,
        status: str = "confirmed",
        lists: Iterable[str] = (),
        force: bool = False,
        source: str = "",
        commit: bool = True,
    ) -> UpsertCounts:
        """Add new addresses, update known ones, add list memberships (never remove them).

        A suppressed address (its row unsubscribed, bounced or complained, or its hash on the
        suppression list after an erasure) is neither added, resubscribed nor changed unless
        ``force``, which takes it off the list and brings it back ``pending`` only: someone who
        left is mailed again only after a new double opt-in. A row whose ``status`` says it left is
        suppressed, even with ``force``; any other row status is honoured as far as
        :func:`status_for` allows, and consent times the row gives are kept. With ``commit=False``
        everything is done and then rolled back: a dry run sees the same counts.

        One transaction, a few statements whatever the number of rows (see :mod:`.bulk`): what
        happens to each row is decided here, in Python, from one look-up of the batch.
        """
        counts = UpsertCounts()
        extra_lists = [fold_list_name(name) for name in lists]
        now = utcnow()
        hashes = [self.hash(row.key) for row in rows]
        with self.engine.connect() as conn:
            bulk = Bulk.on(conn)
            bulk.lock()
            on_list = bulk.suppressed(hashes)
            existing = bulk.known([row.key for row in rows])
            member = bulk.memberships([sub.id for sub in existing.values()])
            named = {tuple(row.lists) for row in rows}  # few distinct ones: each file row names some of a few lists
            wanted_names = {names: tuple(dict.fromkeys([*map(fold_list_name, names), *extra_lists])) for names in named}
            list_ids = _ensure_lists(conn, {name for names in wanted_names.values() for name in names})
            wanted = {names: tuple(list_ids[name] for name in folded) for names, folded in wanted_names.items()}
            changed_at = bulk.time(now)
            leaving: dict[str, str] = {}  # hash → reason, for rows whose source says they left
            lifted: list[str] = []
            fresh: list[tuple] = []  # new rows (NEW_COLUMNS) …
            fresh_lists: list[tuple[int, ...]] = []  # … and the lists each joins
            updates: list[tuple] = []  # changed rows (UPDATE_COLUMNS, id)
            joining: list[tuple[int, int]] = []  # (subscriber id, list id): known subscribers' new lists

            def add(row: NewSubscriber, digest: str, target: str) -> None:
                unsubscribed = (row.unsubscribed_at or now) if target in SUPPRESSED else None
                confirmed = row.confirmed_at or (now if target == "confirmed" else None)
                fresh.append((row.email, row.key, digest, row.name, target, bulk.json(row.attributes), source,
                              changed_at, changed_at, changed_at if confirmed is now else bulk.time(confirmed),
                              bulk.time(unsubscribed)))
                fresh_lists.append(wanted[tuple(row.lists)])
                counts.added += 1

            def update(sub: Known) -> None:
                updates.append((sub.email, sub.email_hash, sub.name, sub.status, bulk.json(sub.attributes),
                                changed_at, sub.confirmed_at, sub.unsubscribed_at, sub.id))

            for row, digest in zip(rows, hashes):
                sub = existing.get(row.key)
                if row.status in SUPPRESSED:
                    leaving[digest] = row.status
                    counts.suppressed += 1
                    if sub is None:
                        add(row, digest, row.status)
                    elif sub.status not in SUPPRESSED:
                        sub.status, sub.unsubscribed_at = row.status, bulk.time(row.unsubscribed_at or now)
                        update(sub)
                        counts.updated += 1
                    else:
                        counts.unchanged += 1
                    continue
                if (digest in on_list or (sub is not None and sub.status in SUPPRESSED)) and not force:
                    counts.kept_out += 1
                    counts.kept_out_keys.append(row.key)
                    continue
                if digest in on_list:
                    lifted.append(digest)
                if sub is None:
                    add(row, digest, "pending" if digest in on_list else status_for(row.status, status))
                    continue
                hashed = sub.email_hash is None
                if hashed:
                    sub.email_hash = digest
                changed = _apply(sub, row, status, force, now, bulk)
                new_lists = [(sub.id, list_id) for list_id in wanted[tuple(row.lists)] if (sub.id, list_id) not in member]
                joining += new_lists
                if changed or new_lists or hashed:
                    update(sub)
                if changed or new_lists:
                    counts.updated += 1
                else:
                    counts.unchanged += 1

            bulk.update_subscribers(updates)
            bulk.insert_subscribers(fresh, fresh_lists)
            bulk.add_memberships(joining)
            add_suppressions(conn, leaving.items(), source or "import")
            lift_suppressions(conn, lifted)
            if commit:
                conn.commit()
            else:
                conn.rollback()
        return counts

    def refresh_statistics(self) -> None:
        """Let PostgreSQL's planner see how large the tables grew during a bulk load.

        Without it, lookups planned while ``subscribers`` was empty keep scanning the whole table
        and an import slows down quadratically. SQLite always uses the index; nothing to do there.
        """
        if self.engine.dialect.name == "postgresql":
            with self.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE subscribers, memberships")

    def set_status(self, key: str, status: str, source: str = "cli") -> bool:
        """Change a subscriber's status (unsubscribe, bounce, complaint, confirmation); leaving
        puts the address on the suppression list."""
        now = utcnow()
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status in SUPPRESSED:
            values["unsubscribed_at"] = now
        elif status == "confirmed":
            values["confirmed_at"] = now
        with Session(self.engine) as session, session.begin():
            result = session.execute(update(Subscriber).where(Subscriber.email_key == key).values(**values))
            if result.rowcount and status in SUPPRESSED:
                add_suppressions(session.connection(), [(self.hash(key), status)], source)
            return result.rowcount > 0

    def get_subscriber(self, key: str) -> SubscriberRow | None:
        """One subscriber by lowercased address."""
        with Session(self.engine) as session:
            sub = session.scalar(select(Subscriber).where(Subscriber.email_key == key))
            if sub is None:
                return None
            return self._rows(session, [sub])[0]

    def subscribers(
        self, *, list_name: str | None = None, status: str | None = None, batch: int = 1000
    ) -> Iterator[SubscriberRow]:
        """Subscribers in id order, streamed in batches, optionally only one list or one status."""
        query = select(Subscriber).order_by(Subscriber.id)
        if status:
            query = query.where(Subscriber.status == status)
        if list_name:
            query = query.join(Membership, Membership.subscriber_id == Subscriber.id).join(
                MailingList, MailingList.id == Membership.list_id
            ).where(func.lower(MailingList.name) == fold_list_name(list_name))
        with Session(self.engine) as session:
            result = session.scalars(query.execution_options(yield_per=batch))
            for part in result.partitions():
                yield from self._rows(session, list(part))

    def _rows(self, session: Session, subs: list[Subscriber]) -> list[SubscriberRow]:
        names: dict[int, list[str]] = {sub.id: [] for sub in subs}
        for ids in _chunks(list(names)):
            query = (
                select(Membership.subscriber_id, MailingList.name)
                .join(MailingList, MailingList.id == Membership.list_id)
                .where(Membership.subscriber_id.in_(ids))
                .order_by(MailingList.name)
            )
            for sid, name in session.execute(query):
                names[sid].append(name)
        return [
            SubscriberRow(s.id, s.email, s.name, s.status, names[s.id], dict(s.attributes or {}),
                          _utc(s.confirmed_at), _utc(s.unsubscribed_at))
            for s in subs
        ]

    def has_attribute(self, key: str) -> bool:
        """Whether any subscriber has the attribute ``key`` (an audience condition names one)."""
        with Session(self.engine) as session:
            return bool(session.scalar(select(exists().where(Subscriber.attributes[key].as_string().is_not(None)))))

    # --- lists ------------------------------------------------------------------------------

    def _ensure_lists(self, session: Session, names: set[str]) -> dict[str, int]:
        """Folded list name → id, for every one of ``names``; lists not there yet are made."""
        names = {fold_list_name(name) for name in names}
        if not names:
            return {}
        # lower(): a list made before names were folded ("Weekly") is still the same list.
        query = select(MailingList.name, MailingList.id).where(func.lower(MailingList.name).in_(sorted(names)))
        found = {name.lower(): list_id for name, list_id in session.execute(query)}
        for name in sorted(names - found.keys()):
            mailing_list = MailingList(name=name, created_at=utcnow())
            session.add(mailing_list)
            session.flush()
            found[name] = mailing_list.id
        return found

    # --- ledger -----------------------------------------------------------------------------

    def add_delivery(self, issue_id: str, key: str, status: str = "queued") -> int:
        """A ledger row for one subscriber of an issue (the send step's entry point)."""
        with Session(self.engine) as session, session.begin():
            sub = session.scalar(select(Subscriber).where(Subscriber.email_key == key))
            if sub is None:
                raise KeyError(key)
            now = utcnow()
            delivery = Delivery(
                issue_id=issue_id, subscriber_id=sub.id, email=sub.email, email_hash=self.hash(key), status=status,
                queued_at=now, updated_at=now,
            )
            session.add(delivery)
            session.flush()
            return delivery.id

    def sent_issue_ids(self) -> set[str]:
        """Issues of which some delivery was handed to a provider (sent, in doubt, or a later event)."""
        with Session(self.engine) as session:
            query = select(Delivery.issue_id).where(Delivery.status.not_in(NOT_HANDED_OVER)).distinct()
            return set(session.scalars(query))

    def deliveries(self, issue_id: str) -> list[dict[str, Any]]:
        """The ledger rows of an issue, as plain dicts."""
        with Session(self.engine) as session:
            rows = session.scalars(select(Delivery).where(Delivery.issue_id == issue_id).order_by(Delivery.id))
            return [
                {
                    "id": d.id, "subscriber_id": d.subscriber_id, "email": d.email,
                    "status": d.status, "attempts": d.attempts,
                }
                for d in rows
            ]


def _apply(sub: Known, row: NewSubscriber, status: str, force: bool, now, bulk: Bulk) -> bool:
    """Update a known subscriber from an imported row; True when anything changed."""
    changed = False
    if row.email != sub.email:
        sub.email = row.email
        changed = True
    if row.name and row.name != sub.name:
        sub.name = row.name
        changed = True
    merged = {**sub.attributes, **row.attributes}
    if merged != sub.attributes:
        sub.attributes = merged
        changed = True
    target = status_for(row.status, status)  # never a suppressed status here: those rows went before
    if sub.status in SUPPRESSED and force:  # back, but only as far as a new double opt-in
        sub.status = "pending"
        sub.unsubscribed_at = None
        sub.confirmed_at = None
        changed = True
    elif sub.status == "pending" and target == "confirmed":
        sub.status = "confirmed"
        sub.confirmed_at = bulk.time(row.confirmed_at or now)
        changed = True
    return changed


def _ensure_lists(conn: Connection, names: set[str]) -> dict[str, int]:
    """Folded list name → id, for every one of ``names`` (folded); lists not there yet are made."""
    if not names:
        return {}
    # lower(): a list made before names were folded ("Weekly") is still the same list.
    query = select(MailingList.name, MailingList.id).where(func.lower(MailingList.name).in_(sorted(names)))
    found = {name.lower(): list_id for name, list_id in conn.execute(query)}
    for name in sorted(names - found.keys()):
        found[name] = conn.execute(insert(MailingList).values(name=name, created_at=utcnow())
                                   .returning(MailingList.id)).scalar_one()
    return found


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives times back without their zone; they were written in UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value
