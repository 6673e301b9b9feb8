"""The web side: keyed address hashes, the suppression list, and provider events.

- ``subscribers.email_hash`` and ``deliveries.email_hash``: a keyed hash (HMAC with the
  publication's secret key) of the address. The ledger keeps it when a subscriber is erased, and
  ``(issue_id, email_hash)`` is unique: an address erased and added again never gets an issue twice.
- ``suppressions``: hashes of addresses that left; they outlive the subscriber row.
- ``provider_events``: SendGrid's events as they came, unique per provider event id.

Existing rows get their hash here when the caller hands in the hash function
(``config.attributes["address_hash"]``, as :func:`newsletter.store.engine.upgrade` does): the key
lives in the publication's settings, not in the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

REASONS = ("unsubscribed", "bounced", "complained", "removed")
HASH = 32


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    op.add_column("subscribers", sa.Column("email_hash", sa.String(HASH), nullable=True))
    op.add_column("deliveries", sa.Column("email_hash", sa.String(HASH), nullable=True))
    _backfill()
    op.create_index("uq_deliveries_issue_address", "deliveries", ["issue_id", "email_hash"], unique=True)
    op.create_table(
        "suppressions",
        sa.Column("email_hash", sa.String(HASH), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("email_hash", name="pk_suppressions"),
        sa.CheckConstraint(f"reason IN ({', '.join(repr(r) for r in REASONS)})", name="ck_suppressions_reason"),
    )
    op.create_table(
        "provider_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("issue_id", sa.String(200), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        _ts("occurred_at", nullable=True),
        _ts("received_at"),
        sa.Column("payload", json, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_provider_events"),
        sa.UniqueConstraint("provider", "event_id", name="uq_provider_events_provider"),
    )
    op.create_index("ix_provider_events_issue", "provider_events", ["issue_id", "event"])
    op.create_index("ix_provider_events_subscriber_id", "provider_events", ["subscriber_id"])


def _backfill() -> None:
    """Hash the addresses already stored, and copy the hashes to their ledger rows."""
    address_hash = context.config.attributes.get("address_hash")
    bind = op.get_bind()
    subscribers = sa.table("subscribers", sa.column("id"), sa.column("email_key"), sa.column("email_hash"))
    deliveries = sa.table("deliveries", sa.column("subscriber_id"), sa.column("email_hash"))
    rows = bind.execute(sa.select(subscribers.c.id, subscribers.c.email_key)).all()
    if not rows or address_hash is None:
        return
    values = [{"sid": sid, "h": address_hash(key)} for sid, key in rows]
    bind.execute(
        subscribers.update().where(subscribers.c.id == sa.bindparam("sid")).values(email_hash=sa.bindparam("h")),
        values,
    )
    bind.execute(
        deliveries.update().where(deliveries.c.subscriber_id == sa.bindparam("sid")).values(email_hash=sa.bindparam("h")),
        values,
    )


def downgrade() -> None:
    op.drop_table("provider_events")
    op.drop_table("suppressions")
    op.drop_index("uq_deliveries_issue_address", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("email_hash")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("email_hash")
