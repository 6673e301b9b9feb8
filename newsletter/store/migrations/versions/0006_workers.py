"""Send workers: who claimed a ledger row, the mailings they drain, their leases, a shared rate budget.

- ``deliveries.worker_id``: the worker that claimed the row (None for a plain ``send``).
- ``mailings``: issues handed to the workers by ``send ISSUE --workers``.
- ``workers``: live workers and their leases (renewed on the database's clock).
- ``rate_budget``: one token bucket for the whole fleet (``rate_limit`` messages per second).

The tables exist on every database so the schema is one; only PostgreSQL runs workers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

STATES = ("planning", "sending", "stopped", "done")


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("worker_id", sa.Integer(), nullable=True))
    op.create_table(
        "mailings",
        sa.Column("issue_id", sa.String(200), nullable=False),
        sa.Column("issue", sa.String(1000), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False, server_default="0")
          for name in ("sent", "failed", "skipped", "in_doubt", "calls")),
        _ts("started_at"),
        _ts("finished_at"),
        sa.PrimaryKeyConstraint("issue_id", name="pk_mailings"),
        sa.CheckConstraint(f"state IN ({', '.join(repr(s) for s in STATES)})", name="ck_mailings_state"),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        _ts("started_at", nullable=False),
        _ts("lease_until", nullable=False),
        sa.Column("issue_id", sa.String(200), nullable=True),
        sa.Column("in_flight", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("sent", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("rate", sa.Float(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_workers"),
    )
    op.create_table(
        "rate_budget",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        _ts("updated_at", nullable=False),
        sa.Column("granted", sa.BigInteger(), nullable=False, server_default="0"),
        _ts("first_grant"),
        sa.PrimaryKeyConstraint("id", name="pk_rate_budget"),
    )


def downgrade() -> None:
    op.drop_table("rate_budget")
    op.drop_table("workers")
    op.drop_table("mailings")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("worker_id")
