"""Queries on ``scheduled_sends``: the durable truth that every scheduler process follows.

Each state change is one statement that names the state it expects (compare-and-set), so when
several schedulers race for a row exactly one wins: on PostgreSQL the row lock makes the loser's
UPDATE re-read the row and match nothing; SQLite serializes writers. Times are written in UTC;
SQLite gives them back naive, and :func:`_aware` puts the zone back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

from sqlalchemy import Engine, and_, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .models import ScheduledSend, utcnow

T = ScheduledSend.__table__
UTC = dt.timezone.utc
#: States in which a send is under way or done: not scheduled afresh. (A ``failed`` send, stopped
#: with the rest queued, may be scheduled again: it resumes through the ledger.)
BEGUN = ("running", "interrupted", "sent")
#: States of an occurrence whose articles went out (or are going out).
CARRIED = ("running", "interrupted", "sent", "failed")


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ScheduledRow:
    """A row of ``scheduled_sends``, times aware (UTC)."""

    id: int
    issue_id: str
    issue: str
    due_at: dt.datetime
    zone: str
    repeat: str | None
    state: str
    attempts: int
    reason: str | None
    articles: list[str] | None
    claimed_by: str | None
    lease_until: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @classmethod
    def of(cls, row) -> "ScheduledRow":
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        for key in ("due_at", "lease_until", "started_at", "finished_at"):
            values[key] = _aware(values[key])
        return cls(**values)


_COLUMNS = [T.c[f.name] for f in fields(ScheduledRow)]


class ScheduleConflict(Exception):
    """The issue's send has begun (or is done): it cannot be scheduled again."""

    def __init__(self, row: ScheduledRow):
        super().__init__(row.state)
        self.row = row


class Schedule:
    """The scheduled sends of a store. Every method is its own committed transaction."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._insert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert

    # --- reading ----------------------------------------------------------------------------

    def _select(self, *conditions, order=None) -> list[ScheduledRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*_COLUMNS).where(*conditions).order_by(*(order or [T.c.due_at, T.c.id]))).all()
        return [ScheduledRow.of(r) for r in rows]

    def all(self) -> list[ScheduledRow]:
        return self._select()

    def get(self, row_id: int) -> ScheduledRow | None:
        rows = self._select(T.c.id == row_id)
        return rows[0] if rows else None

    def find(self, issue_id: str) -> ScheduledRow | None:
        rows = self._select(T.c.issue_id == issue_id)
        return rows[0] if rows else None

    def waiting(self, issue: str | None = None) -> list[ScheduledRow]:
        """Rows in ``scheduled`` (of one issue file, if given), soonest first."""
        conditions = [T.c.state == "scheduled"]
        if issue is not None:
            conditions.append(T.c.issue == issue)
        return self._select(*conditions)

    def orphaned(self, now: dt.datetime) -> list[ScheduledRow]:
        """Begun sends nobody holds: stopped gracefully, or their scheduler's lease ran out."""
        now = now.astimezone(UTC)
        return self._select(or_(T.c.state == "interrupted", and_(T.c.state == "running", T.c.lease_until < now)))

    def carried(self, issue: str | None, but: int | None = None) -> set[str]:
        """Articles that earlier occurrences of a recurring issue (or of any, for None) carried."""
        conditions = [T.c.state.in_(CARRIED), T.c.articles.is_not(None)]
        if issue is not None:
            conditions.append(T.c.issue == issue)
        if but is not None:
            conditions.append(T.c.id != but)
        with self.engine.connect() as conn:
            return {slug for (articles,) in conn.execute(select(T.c.articles).where(*conditions)) for slug in articles or []}

    # --- editors' changes -------------------------------------------------------------------

    def put(self, issue_id: str, issue: str, due_at: dt.datetime, zone: str, repeat: str | None = None) -> ScheduledRow:
        """Schedule the send, or move its time; :class:`ScheduleConflict` once it has begun."""
        now = utcnow()
        values = dict(issue=issue, due_at=due_at.astimezone(UTC), zone=zone, repeat=repeat, state="scheduled",
                      reason=None, claimed_by=None, lease_until=None, finished_at=None, updated_at=now)
        with self.engine.begin() as conn:
            conn.execute(
                self._insert(T).values(issue_id=issue_id, attempts=0, created_at=now, **values)
                .on_conflict_do_nothing(index_elements=["issue_id"])
            )
            conn.execute(update(T).where(T.c.issue_id == issue_id, T.c.state.not_in(BEGUN)).values(**values))
            row = ScheduledRow.of(conn.execute(select(*_COLUMNS).where(T.c.issue_id == issue_id)).one())
        if row.state != "scheduled" or row.due_at != due_at.astimezone(UTC):
            raise ScheduleConflict(row)
        return row

    def add_occurrence(self, issue_id: str, issue: str, due_at: dt.datetime, zone: str, repeat: str) -> bool:
        """The next occurrence of a recurring issue, unless a scheduler already added it."""
        now = utcnow()
        with self.engine.begin() as conn:
            added = conn.execute(
                self._insert(T).values(issue_id=issue_id, issue=issue, due_at=due_at.astimezone(UTC), zone=zone,
                                       repeat=repeat, state="scheduled", attempts=0, created_at=now, updated_at=now)
                .on_conflict_do_nothing(index_elements=["issue_id"]).returning(T.c.id)
            ).all()
        return bool(added)

    def cancel(self, row_ids: list[int]) -> int:
        """``scheduled`` → ``cancelled``; a send that has begun is not touched."""
        return self._change(T.c.id.in_(row_ids), T.c.state == "scheduled", state="cancelled",
                            reason="unscheduled", finished_at=utcnow())

    # --- schedulers -------------------------------------------------------------------------

    def _change(self, *conditions, **values) -> int:
        values.setdefault("updated_at", utcnow())
        with self.engine.begin() as conn:
            return conn.execute(update(T).where(*conditions).values(**values)).rowcount or 0

    def claim(self, row_id: int, owner: str, lease: float, now: dt.datetime) -> ScheduledRow | None:
        """``scheduled`` → ``running`` for the one scheduler whose statement wins, once it is due."""
        now = now.astimezone(UTC)
        return self._take(row_id, owner, lease, now, and_(T.c.state == "scheduled", T.c.due_at <= now))

    def take_over(self, row_id: int, owner: str, lease: float, now: dt.datetime) -> ScheduledRow | None:
        """An interrupted send, or one whose scheduler stopped renewing its lease (it died)."""
        now = now.astimezone(UTC)
        return self._take(row_id, owner, lease, now,
                          or_(T.c.state == "interrupted", and_(T.c.state == "running", T.c.lease_until < now)))

    def _take(self, row_id: int, owner: str, lease: float, now: dt.datetime, condition) -> ScheduledRow | None:
        with self.engine.begin() as conn:
            row = conn.execute(
                update(T).where(T.c.id == row_id, condition)
                .values(state="running", claimed_by=owner, lease_until=now + dt.timedelta(seconds=lease),
                        attempts=T.c.attempts + 1,
                        started_at=func.coalesce(T.c.started_at, literal(now, T.c.started_at.type)),
                        updated_at=now)
                .returning(*_COLUMNS)
            ).first()
        return ScheduledRow.of(row) if row else None

    def renew(self, row_id: int, owner: str, lease: float, now: dt.datetime) -> bool:
        """Hold a running send a while longer. The holder of the issue's send lock is its true
        sender, so it renews even if another scheduler took the row in the meantime."""
        now = now.astimezone(UTC)
        return bool(self._change(T.c.id == row_id, T.c.state == "running", claimed_by=owner,
                                 lease_until=now + dt.timedelta(seconds=lease), updated_at=now))

    def pin(self, row_id: int, articles: list[str]) -> None:
        """The articles an occurrence carries, before anything of it is sent."""
        self._change(T.c.id == row_id, articles=articles)

    def finish(self, row_id: int, state: str, reason: str | None, now: dt.datetime | None = None) -> bool:
        """``running`` → ``sent`` | ``failed`` | ``refused`` | ``skipped`` | ``interrupted``."""
        now = (now or utcnow()).astimezone(UTC)
        ended = now if state != "interrupted" else None
        return bool(self._change(T.c.id == row_id, T.c.state == "running", state=state, reason=reason,
                                 claimed_by=None, lease_until=None, finished_at=ended, updated_at=now))

    def release(self, row_id: int, owner: str, now: dt.datetime) -> bool:
        """Give a claim back without a verdict (another process turned out to hold the send): the
        lease is left to run out, so nobody takes the row again at once."""
        return bool(self._change(T.c.id == row_id, T.c.state == "running", T.c.claimed_by == owner,
                                 attempts=T.c.attempts - 1, updated_at=now.astimezone(UTC)))

    def miss(self, row_id: int, reason: str, now: dt.datetime) -> bool:
        """``scheduled`` → ``missed``: its time passed beyond the grace while no scheduler ran."""
        now = now.astimezone(UTC)
        return bool(self._change(T.c.id == row_id, T.c.state == "scheduled", state="missed", reason=reason,
                                 finished_at=now, updated_at=now))

