"""The tables of the subscriber store and the delivery ledger, as typed SQLAlchemy models.

The schema itself is owned by the Alembic revisions in ``migrations/``; these models must match
them (``tests/test_store.py`` compares the two).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .names import MAX_LIST_NAME, fold_list_name  # noqa: F401  (part of the models' vocabulary)

SUBSCRIBER_STATUSES = ("pending", "confirmed", "unsubscribed", "bounced", "complained")
#: A subscriber in one of these states is never mailed and never resubscribed by an import.
SUPPRESSED = ("unsubscribed", "bounced", "complained")
DELIVERY_STATUSES = (
    "queued", "sending", "sent", "failed", "in_doubt", "skipped",
    "delivered", "bounced", "complained", "opened", "clicked",
)
#: A scheduled send's life: ``scheduled`` → ``running`` → ``sent`` | ``failed`` | ``refused``;
#: ``interrupted`` (stopped gracefully, resumes), ``missed`` (due past the grace), ``skipped`` (a
#: recurring occurrence with nothing new), ``cancelled`` (unscheduled).
SCHEDULE_STATES = ("scheduled", "running", "interrupted", "sent", "failed", "missed", "refused", "skipped", "cancelled")
#: Why an address is on the suppression list: it left (one of SUPPRESSED), or it was erased.
SUPPRESSION_REASONS = (*SUPPRESSED, "removed")
#: Length of a keyed address hash (hex): 128 bits of HMAC-SHA256.
HASH_LENGTH = 32

# Named constraints, so migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Subscriber(Base):
    """One address. ``email_key`` (lowercased) is what makes an address unique."""

    __tablename__ = "subscribers"
    __table_args__ = (CheckConstraint(_in("status", SUBSCRIBER_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    #: Keyed hash of ``email_key`` (migration 0004): what the ledger and the suppression list
    #: remember of an address once the row is erased.
    email_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH))
    name: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))




class MailingList(Base):
    """A named list a subscriber can belong to (``weekly``, ``festival``); names are folded."""

    __tablename__ = "lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_LIST_NAME), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Membership(Base):
    """A subscriber on a list."""

    __tablename__ = "memberships"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(
        ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Delivery(Base):
    """The ledger: one row per (issue, subscriber). Erasing a subscriber nulls its personal data."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("issue_id", "subscriber_id"),
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        # The send loop claims "the next queued rows of this issue" past the last id it claimed;
        # no status in it, so marking a row touches no index (migration 0005).
        Index("ix_deliveries_issue", "issue_id", "id"),
        # An address gets an issue once, even if it was erased and added again (migration 0004).
        Index("uq_deliveries_issue_address", "issue_id", "email_hash", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[str] = mapped_column(String(200))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str | None] = mapped_column(String(320))
    #: The subscriber's keyed address hash, kept when the row is erased.
    email_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    provider_message_id: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The send worker that claimed the row (``workers.id``, migration 0006); None for a plain ``send``.
    #: No foreign key: a worker's row goes when it stops, the ledger keeps who sent what.
    worker_id: Mapped[int | None] = mapped_column(Integer)


class ScheduledSend(Base):
    """One send due at a time: a one-off issue, or one occurrence of a recurring issue.

    ``issue`` is how the issue file is found (its name in ``issues/``); ``issue_id`` is the id the
    ledger uses (an occurrence's own id for a recurring issue). A scheduler claims a due row by
    moving it ``scheduled`` → ``running`` in one statement, and holds it by renewing ``lease_until``.
    """

    __tablename__ = "scheduled_sends"
    __table_args__ = (
        CheckConstraint(_in("state", SCHEDULE_STATES), name="state"),
        Index("ix_scheduled_sends_state", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[str] = mapped_column(String(200), unique=True)
    issue: Mapped[str] = mapped_column(String(1000))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: The zone the time was given in, to show it back as written.
    zone: Mapped[str] = mapped_column(String(64))
    #: A cron expression (publication's zone) for a recurring issue; the next occurrence follows.
    repeat: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Why it was missed, refused, failed or skipped; the counts when it was sent.
    reason: Mapped[str | None] = mapped_column(Text)
    #: Slugs of the articles an occurrence carried, so the next one takes newer ones.
    articles: Mapped[list[str] | None] = mapped_column(JsonType)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Suppression(Base):
    """An address that left, remembered only by its keyed hash: no import, ``add`` or form brings
    it back without a new double opt-in, even after its subscriber row is erased."""

    __tablename__ = "suppressions"
    __table_args__ = (CheckConstraint(_in("reason", SUPPRESSION_REASONS), name="reason"),)

    email_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))
    #: What suppressed it: ``web``, ``cli``, ``import:FILE``, ``sendgrid:bounce`` …
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProviderEvent(Base):
    """A provider's event (SendGrid's Event Webhook) as it came, once per provider event id.

    ``issue_id``, ``subscriber_id`` come from the message's custom args; ``delivery_id`` is the
    ledger row it was matched to (None for unknown rows: kept anyway). No foreign keys: events
    outlive the rows they name.
    """

    __tablename__ = "provider_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id"),
        Index("ix_provider_events_issue", "issue_id", "event"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(40))
    issue_id: Mapped[str | None] = mapped_column(String(200))
    subscriber_id: Mapped[int | None] = mapped_column(Integer, index=True)
    delivery_id: Mapped[int | None] = mapped_column(Integer)
    #: The clicked link (click events): the report rolls clicks up by its ``utm_content``.
    url: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)


#: A mailing drained by send workers: ``planning`` (workers keep off) → ``sending`` → ``done``;
#: ``stopped`` (Ctrl-C on ``send --workers``, or a worker stopped it: ``reason`` says why).
MAILING_STATES = ("planning", "sending", "stopped", "done")


class FleetMailing(Base):
    """An issue handed to the send workers by ``send ISSUE --workers`` (migration 0006).

    ``issue`` is how a worker finds the issue file (relative to the publication), ``digest`` what
    the rendered issue must hash to: a worker whose copy of the publication renders something
    else does not send it. The counters are the workers' running totals for ``send``'s progress.
    """

    __tablename__ = "mailings"
    __table_args__ = (CheckConstraint(_in("state", MAILING_STATES), name="state"),)

    issue_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    issue: Mapped[str] = mapped_column(String(1000))
    digest: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="planning")
    reason: Mapped[str | None] = mapped_column(Text)
    sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    in_doubt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Provider calls (batches handed over).
    calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Worker(Base):
    """A live ``newsletter worker``: its lease (renewed by a heartbeat, on the database's clock)
    and what it is doing. A row whose lease has expired belongs to a dead worker: its ``sending``
    rows become ``in_doubt`` and the row goes."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    issue_id: Mapped[str | None] = mapped_column(String(200))
    in_flight: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sent: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: Messages per second over the last heartbeat.
    rate: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class RateBudget(Base):
    """The fleet's shared token bucket (one row): ``tokens`` left at ``updated_at``, refilled at
    ``rate_limit`` per second; ``granted`` counts every message it let through."""

    __tablename__ = "rate_budget"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    granted: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    first_grant: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
