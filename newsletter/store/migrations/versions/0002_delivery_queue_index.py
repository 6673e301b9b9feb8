"""Index the ledger as a queue: claiming the next queued rows of an issue must not scan sent ones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_queue", "deliveries", ["issue_id", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_queue", table_name="deliveries")
