"""Initial schema: subscribers, lists, memberships and the delivery ledger.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SUBSCRIBER_STATUSES = ("pending", "confirmed", "unsubscribed", "bounced", "complained")
DELIVERY_STATUSES = (
    "queued", "sending", "sent", "failed", "in_doubt", "skipped",
    "delivered", "bounced", "complained", "opened", "clicked",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("name", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attributes", json, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("confirmed_at", nullable=True),
        _ts("unsubscribed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_subscribers"),
        sa.CheckConstraint(_in("status", SUBSCRIBER_STATUSES), name="ck_subscribers_status"),
    )
    op.create_index("ix_subscribers_email_key", "subscribers", ["email_key"], unique=True)
    op.create_table(
        "lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_lists"),
        sa.UniqueConstraint("name", name="uq_lists_name"),
    )
    op.create_table(
        "memberships",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subscriber_id", "list_id", name="pk_memberships"),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["subscribers.id"], ondelete="CASCADE",
            name="fk_memberships_subscriber_id_subscribers",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"], ["lists.id"], ondelete="CASCADE", name="fk_memberships_list_id_lists"
        ),
    )
    op.create_index("ix_memberships_list_id", "memberships", ["list_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.String(200), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_message_id", sa.String(500), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("queued_at"),
        _ts("sent_at", nullable=True),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("issue_id", "subscriber_id", name="uq_deliveries_issue_id"),
        sa.CheckConstraint(_in("status", DELIVERY_STATUSES), name="ck_deliveries_status"),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["subscribers.id"], ondelete="SET NULL",
            name="fk_deliveries_subscriber_id_subscribers",
        ),
    )
    op.create_index("ix_deliveries_subscriber_id", "deliveries", ["subscriber_id"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("memberships")
    op.drop_table("lists")
    op.drop_table("subscribers")
