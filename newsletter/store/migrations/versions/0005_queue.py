"""The ledger's order index leaves ``status`` out: marking a row no longer rewrites an index.

``ix_deliveries_queue`` (issue, status, id) made every status change (queued → sending → sent, two
per recipient) delete and insert an index entry, and on PostgreSQL it kept every update from being
HOT, so each wrote a new entry into all five indexes. ``ix_deliveries_issue`` (issue, id) serves
the claim as well: the send loop claims with a keyset (``id > the last claimed``), so the scan
starts at the first queued row and reads about as many rows as it claims. Reports and recovery
(counts, rows left ``sending``) now read the issue's rows, once per send.

On PostgreSQL the ledger's pages keep room for the new row versions (fillfactor 80), so a status
change is a heap-only update.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_issue", "deliveries", ["issue_id", "id"])
    op.drop_index("ix_deliveries_queue", table_name="deliveries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries RESET (fillfactor)")
    op.create_index("ix_deliveries_queue", "deliveries", ["issue_id", "status", "id"])
    op.drop_index("ix_deliveries_issue", table_name="deliveries")
