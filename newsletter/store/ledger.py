"""Ledger queries: the delivery ledger is the send queue.

One row per (issue, subscriber). ``queued`` rows are planned before anything is sent; a batch is
claimed (``sending``, committed) before the provider is called and marked ``sent`` or ``failed``
after. A row found in ``sending`` when a send starts was interrupted between the claim and the
mark: whether it left is unknown, so it becomes ``in_doubt`` and is never resent silently.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import Engine, and_, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..issue.model import Audience
from .models import Delivery, MailingList, Membership, Subscriber, fold_list_name, utcnow

D = Delivery.__table__
S = Subscriber.__table__
M = Membership.__table__
L = MailingList.__table__

PLAN_BATCH = 20_000
#: Statuses of a row whose message left (later ones come from provider events).
SENT = ("sent", "delivered", "opened", "clicked", "bounced", "complained")


#: The hot path's statements (claim, mark), driver-level. ``?`` becomes ``%s`` on PostgreSQL, and
#: a batch's ids are one parameter: a JSON array SQLite reads with json_each, an array there.
_SQLITE_IDS = "(SELECT value FROM json_each(?))"
_SQLITE_PICK = (
    "SELECT d.id, d.subscriber_id, COALESCE(d.email, ''), COALESCE(s.name, ''), s.status"
    " FROM deliveries AS d LEFT JOIN subscribers AS s ON s.id = d.subscriber_id"
    " WHERE d.issue_id = ? AND d.status = 'queued' AND d.id > ? ORDER BY d.id LIMIT ?"
)
_SQLITE_CLAIM = (
    "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, updated_at = ?, worker_id = NULL"
    " WHERE issue_id = ? AND status = 'queued' AND id BETWEEN ? AND ?"
)
_PG_CLAIM = (
    "WITH picked AS (SELECT id, subscriber_id FROM deliveries"
    " WHERE issue_id = %s AND status = 'queued' AND id > %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
    " UPDATE deliveries AS d SET status = 'sending', attempts = d.attempts + 1, updated_at = %s, worker_id = NULL"
    " FROM picked LEFT JOIN LATERAL (SELECT name, status FROM subscribers WHERE id = picked.subscriber_id LIMIT 1) AS s"
    " ON true WHERE d.id = picked.id"  # a key lookup per row (LIMIT keeps it one), never a hash of every subscriber
    " RETURNING d.id, d.subscriber_id, COALESCE(d.email, ''), COALESCE(s.name, ''), s.status"
)
# A row a send worker's reaper put in doubt while its batch was still out (the worker missed its
# lease) becomes sent when the provider's answer comes after all: it is the provider's word.
_SENT_IDS = ("UPDATE deliveries SET status = 'sent', provider_message_id = ?, sent_at = ?, updated_at = ?,"
             f" last_error = NULL WHERE id IN {_SQLITE_IDS} AND status IN ('sending', 'in_doubt')")
_SENT_ONE = ("UPDATE deliveries SET status = 'sent', provider_message_id = ?, sent_at = ?, updated_at = ?,"
             " last_error = NULL WHERE id = ? AND status IN ('sending', 'in_doubt')")
_MARK_ONE = "UPDATE deliveries SET status = ?, last_error = ?, updated_at = ? WHERE id = ? AND status = 'sending'"
_REQUEUE_IDS = ("UPDATE deliveries SET status = 'queued', attempts = attempts - 1, last_error = ?, updated_at = ?"
                f" WHERE id IN {_SQLITE_IDS} AND status = ?")


class Claimed(NamedTuple):
    """A ledger row claimed for sending, with what the message needs of its subscriber.

    A named tuple, made straight from the driver's row: one is made per recipient, and a frozen
    dataclass cost several times more to build."""

    delivery_id: int
    subscriber_id: int | None
    email: str
    name: str
    subscriber_status: str | None


def _audience_filter(audience: Audience):
    conditions = [S.c.status == "confirmed"]
    if audience.lists:
        conditions.append(
            exists().where(and_(M.c.subscriber_id == S.c.id, M.c.list_id == L.c.id,
                                func.lower(L.c.name).in_([fold_list_name(name) for name in audience.lists])))
        )
    for key, values in audience.where.items():
        column = S.c.attributes[key].as_string()
        texts = [("true" if v else "false") if isinstance(v, bool) else str(v) for v in values]
        conditions.append(column.in_(texts) if len(texts) > 1 else column == texts[0])
    return and_(*conditions)


class Ledger:
    """The ledger rows of one issue. Every method is its own committed transaction."""

    def __init__(self, engine: Engine, issue_id: str):
        self.engine = engine
        self.issue_id = issue_id
        self.postgres = engine.dialect.name == "postgresql"
        self._bind_time = D.c.updated_at.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)

    # --- planning -------------------------------------------------------------------------

    def plan(self, audience: Audience, batch: int = PLAN_BATCH) -> int:
        """Queue every selected subscriber not yet in the ledger, in id ranges committed one by one.

        Who is already there is left to the unique indexes (ON CONFLICT DO NOTHING): (issue,
        subscriber), and (issue, keyed address hash), which keeps out an address that got the
        issue before it was erased and added again. A NOT EXISTS probe would also walk the rows
        the same statement has just inserted, which made planning quadratic on PostgreSQL.
        """
        added = 0
        with self.engine.connect() as conn:
            top = conn.execute(select(func.max(S.c.id))).scalar() or 0
        columns = ["issue_id", "subscriber_id", "email", "email_hash", "status", "attempts", "queued_at", "updated_at"]
        upsert = postgresql_insert if self.postgres else sqlite_insert
        low = 0
        while low < top:
            high = low + batch
            now = utcnow()
            chosen = (
                select(literal(self.issue_id), S.c.id, S.c.email, S.c.email_hash, literal("queued"), literal(0),
                       literal(now), literal(now))
                .where(S.c.id > low, S.c.id <= high, _audience_filter(audience))
            )
            statement = upsert(D).from_select(columns, chosen).on_conflict_do_nothing()
            with self.engine.begin() as conn:
                # Counted by the database, not by returning every new id to Python: sqlite3 gives
                # the rows an INSERT … SELECT added; SQLAlchemy's psycopg result says -1, so
                # PostgreSQL counts them from a CTE.
                if self.postgres:
                    added += conn.execute(select(func.count()).select_from(
                        statement.returning(literal(1)).cte("added"))).scalar_one()
                else:
                    added += conn.execute(statement).rowcount
            low = high
        if added and self.postgres:
            with self.engine.begin() as conn:  # the planner must see the new rows, or claiming scans
                conn.exec_driver_sql("ANALYZE deliveries")
        return added

    def count_audience(self, audience: Audience) -> int:
        """How many subscribers the audience selects now (for a dry run)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(S).where(_audience_filter(audience))).scalar() or 0

    def count_to_send(self, audience: Audience, again: Sequence[str] = ("queued",)) -> int:
        """How many a send would hand over now (for a dry run): subscribers the audience selects
        who are not in the ledger yet, and rows in ``again`` whose subscriber is still confirmed."""
        fresh = select(func.count()).select_from(S).where(
            _audience_filter(audience), ~exists().where(D.c.issue_id == self.issue_id, D.c.subscriber_id == S.c.id))
        waiting = select(func.count()).select_from(D.join(S, S.c.id == D.c.subscriber_id)).where(
            D.c.issue_id == self.issue_id, D.c.status.in_(list(again)), S.c.status == "confirmed")
        with self.engine.connect() as conn:
            return (conn.execute(fresh).scalar() or 0) + (conn.execute(waiting).scalar() or 0)

    # --- recovery and retries -------------------------------------------------------------

    def _move(self, from_status: str, to_status: str, note: str | None = None, touch: bool = True,
              before: dt.datetime | None = None) -> int:
        values: dict = {"status": to_status}
        if touch:
            values["updated_at"] = utcnow()
        if note is not None:
            values["last_error"] = note
        where = [D.c.issue_id == self.issue_id, D.c.status == from_status]
        if before is not None:
            where.append(D.c.updated_at <= before)
        with self.engine.begin() as conn:
            return conn.execute(update(D).where(*where).values(**values)).rowcount or 0

    def recover_interrupted(self) -> int:
        """Rows left ``sending`` by a crash become ``in_doubt``: they may or may not have left.
        Their ``updated_at`` stays the time of the batch, from which the grace for provider
        events counts (:meth:`retry_in_doubt`)."""
        return self._move("sending", "in_doubt", "interrupted between handing to the provider and recording the result",
                          touch=False)

    def retry(self, status: str) -> int:
        """Put ``failed`` or ``in_doubt`` rows back in the queue, on purpose."""
        return self._move(status, "queued")

    def retry_in_doubt(self, grace: float = 0.0) -> tuple[int, int, dt.datetime | None]:
        """Put ``in_doubt`` rows back in the queue, except those whose batch is less than ``grace``
        seconds old: a provider event may still show they were sent. (requeued, held back, when
        the last one held back may be retried)."""
        cutoff = utcnow() - dt.timedelta(seconds=grace)
        moved = self._move("in_doubt", "queued", before=cutoff)
        with self.engine.connect() as conn:
            held, newest = conn.execute(
                select(func.count(), func.max(D.c.updated_at)).where(D.c.issue_id == self.issue_id, D.c.status == "in_doubt")
            ).one()
        if newest is not None and newest.tzinfo is None:  # SQLite gives back naive UTC
            newest = newest.replace(tzinfo=dt.timezone.utc)
        return moved, held, (newest + dt.timedelta(seconds=grace) if held else None)

    # --- the send loop --------------------------------------------------------------------

    def claim(self, limit: int, after: int = 0) -> list[Claimed]:
        """Mark up to ``limit`` queued rows ``sending`` and commit, before anything is sent.

        ``after`` (the highest id claimed so far) lets the index scan start past the rows already
        sent, whose old index entries PostgreSQL keeps until vacuum; rows put back in the queue
        below it are found by a claim from 0, which the send loop makes before it ends.

        Driver-level SQL, one statement per step, with the subscriber's name and status joined
        in: this runs once per thousand recipients, and building it with SQLAlchemy cost more
        than the database's own work. PostgreSQL picks and updates in one statement (SKIP LOCKED,
        so other claimers pass by); SQLite first takes the write lock, so the queued rows of the
        issue between the first and last one read are exactly those read.
        """
        stamp = self._stamp(utcnow())
        with self.engine.begin() as conn:
            cursor = conn.connection.cursor()  # the driver's own: plain tuples, no result objects
            if self.postgres:
                cursor.execute(_PG_CLAIM, (self.issue_id, after, limit, stamp))
                rows = cursor.fetchall()
                rows.sort()
            else:
                conn.exec_driver_sql("UPDATE deliveries SET id = id WHERE 0")  # BEGIN IMMEDIATE: the write lock
                cursor.execute(_SQLITE_PICK, (self.issue_id, after, limit))
                rows = cursor.fetchall()
                if rows:
                    changed = conn.exec_driver_sql(
                        _SQLITE_CLAIM, (stamp, self.issue_id, rows[0][0], rows[-1][0])).rowcount
                    if changed != len(rows):  # cannot happen under the write lock; never send unclaimed rows
                        raise RuntimeError(f"claimed {changed} rows for {len(rows)} picked")
        return list(map(Claimed._make, rows))

    def mark_sent(self, sent: Sequence[tuple[int, str]]) -> None:
        """(delivery id, provider message id) pairs, all ``sent`` in one transaction: one
        statement per message id (SendGrid gives one per request), else one per row."""
        if not sent:
            return
        stamp = self._stamp(utcnow())
        by_message: dict[str, list[int]] = {}
        for delivery_id, message_id in sent:
            by_message.setdefault(message_id, []).append(delivery_id)
        with self.engine.begin() as conn:
            if len(by_message) <= 4:
                for message_id, ids in by_message.items():
                    conn.exec_driver_sql(self._sql(_SENT_IDS), (message_id or None, stamp, stamp, self._ids(ids)))
            else:
                conn.exec_driver_sql(self._sql(_SENT_ONE), [(m or None, stamp, stamp, d) for d, m in sent])

    def mark(self, status: str, rows: Iterable[tuple[int, str]]) -> None:
        """(delivery id, error) pairs of claimed rows set to ``failed``, ``skipped``, ``in_doubt``
        or back to ``queued``. Only rows still ``sending`` change: later states are never overwritten."""
        rows = list(rows)
        if not rows:
            return
        stamp = self._stamp(utcnow())
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._sql(_MARK_ONE),
                                 [(status, (e or None) and e[:2000], stamp, d) for d, e in rows])

    def requeue(self, ids: Sequence[int], error: str) -> None:
        """Back to ``queued`` after a batch nothing of which was accepted: the attempt is refunded,
        so an outage pauses the send instead of failing everyone."""
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._sql(_REQUEUE_IDS),
                                 (error[:2000], self._stamp(utcnow()), self._ids(ids), "sending"))

    def _sql(self, statement: str) -> str:
        """A statement written with ``?`` placeholders, for this database's driver."""
        return statement.replace("IN " + _SQLITE_IDS, "= ANY(?)").replace("?", "%s") if self.postgres else statement

    def _ids(self, ids: Sequence[int]):
        """Many ids as one parameter: a PostgreSQL array, a JSON array SQLite's json_each reads."""
        return list(ids) if self.postgres else "[" + ",".join(map(str, ids)) + "]"

    def _stamp(self, when: dt.datetime):
        """A time as the column type writes it (SQLite keeps text), for driver-level statements."""
        return self._bind_time(when) if self._bind_time else when

    def attempts(self, ids: Sequence[int]) -> dict[int, int]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(D.c.id, D.c.attempts).where(D.c.id.in_(list(ids)))).all())

    # --- reporting ------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(D.c.status, func.count()).where(D.c.issue_id == self.issue_id).group_by(D.c.status)
            ).all()
        return {status: count for status, count in rows}

    def rows(self, statuses: Sequence[str], limit: int | None = 1000) -> list[dict]:
        """The rows in these states, oldest first; ``limit`` None for all of them."""
        with self.engine.connect() as conn:
            result = conn.execute(
                select(D.c.id, D.c.subscriber_id, D.c.email, D.c.status, D.c.attempts, D.c.last_error,
                       D.c.updated_at)
                .where(D.c.issue_id == self.issue_id, D.c.status.in_(list(statuses)))
                .order_by(D.c.id).limit(limit)
            ).mappings().all()
        return [dict(row) for row in result]

    def first_sent(self) -> dt.datetime | None:
        """When the issue first went out (its earliest row that left), or None if nobody got it."""
        with self.engine.connect() as conn:
            first = conn.execute(select(func.min(D.c.sent_at)).where(
                D.c.issue_id == self.issue_id, D.c.status.in_(SENT), D.c.sent_at.is_not(None))).scalar()
        if first is not None and first.tzinfo is None:  # SQLite gives back naive UTC
            first = first.replace(tzinfo=dt.timezone.utc)
        return first

    def window(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """When the first row was queued and the last one sent."""
        with self.engine.connect() as conn:
            first, last = conn.execute(
                select(func.min(D.c.queued_at), func.max(D.c.sent_at)).where(D.c.issue_id == self.issue_id)
            ).one()
        return first, last

    def settle_in_doubt(self, written) -> tuple[int, int]:
        """Settle the rows in doubt with a provider that can look its deliveries up itself (the
        outbox reads its Maildir): ``written(ids)`` maps each row whose message exists to its
        Message-ID. Those rows are ``sent``; the rest provably never left and go back to
        ``queued``, their attempt refunded. (sent, queued again)."""
        with self.engine.connect() as conn:
            ids = conn.execute(select(D.c.id).where(D.c.issue_id == self.issue_id, D.c.status == "in_doubt")
                               ).scalars().all()
        if not ids:
            return 0, 0
        found = written(ids)
        back = [i for i in ids if i not in found]
        stamp = self._stamp(utcnow())
        with self.engine.begin() as conn:  # the statements of mark_sent and requeue, from in_doubt
            if found:
                conn.exec_driver_sql(self._sql(_SENT_ONE), [(m or None, stamp, stamp, d) for d, m in found.items()])
            if back:
                conn.exec_driver_sql(self._sql(_REQUEUE_IDS), (
                    "interrupted before its message was written; queued again", stamp, self._ids(back), "in_doubt"))
        return len(found), len(back)


class SendLock:
    """One send per issue at a time: a PostgreSQL advisory lock, or a lock file beside SQLite's.

    Holding it is what makes turning ``sending`` rows into ``in_doubt`` safe at start.
    """

    def __init__(self, engine: Engine, issue_id: str):
        self.engine = engine
        self.issue_id = issue_id
        self._conn = None
        self._file = None
        self._key = 0  # the advisory lock's number, set when it is taken

    def acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            self._conn = self.engine.connect()
            # Advisory locks are per database: the schema keeps stores that share one apart.
            schema = self._conn.exec_driver_sql("SELECT current_schema()").scalar()
            digest = hashlib.blake2b(f"newsletter-send:{schema}:{self.issue_id}".encode(), digest_size=8).digest()
            self._key = int.from_bytes(digest, "big", signed=True)
            got = self._conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({self._key})").scalar()
            if not got:
                self._conn.close()
                self._conn = None
            return bool(got)
        import fcntl
        from pathlib import Path

        database = self.engine.url.database or "memory"
        path = Path(f"{database}.send-{self.issue_id}.lock")
        self._file = open(path, "a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            self._file = None
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.exec_driver_sql(f"SELECT pg_advisory_unlock({self._key})")
            finally:
                self._conn.close()  # back to the pool: the lock must not ride along with it
                self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None
