"""Scheduled sends: the durable truth behind every scheduler process.

APScheduler's own job stores must not be shared by several schedulers, so each scheduler keeps
in-memory jobs in step with this table and claims a due row with a compare-and-set.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STATES = ("scheduled", "running", "interrupted", "sent", "failed", "missed", "refused", "skipped", "cancelled")


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    op.create_table(
        "scheduled_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.String(200), nullable=False),
        sa.Column("issue", sa.String(1000), nullable=False),
        _ts("due_at", nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("repeat", sa.String(200), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("articles", json, nullable=True),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        _ts("lease_until"),
        _ts("started_at"),
        _ts("finished_at"),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scheduled_sends"),
        sa.UniqueConstraint("issue_id", name="uq_scheduled_sends_issue_id"),
        sa.CheckConstraint(f"state IN ({', '.join(repr(s) for s in STATES)})", name="ck_scheduled_sends_state"),
    )
    op.create_index("ix_scheduled_sends_state", "scheduled_sends", ["state", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_scheduled_sends_state", table_name="scheduled_sends")
    op.drop_table("scheduled_sends")
