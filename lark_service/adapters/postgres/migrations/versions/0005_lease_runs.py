"""The run log of a lease: how often a periodic duty (upkeep) ran, and when last.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lark_service.adapters.postgres.migrations import table_prefix

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    p = table_prefix()
    with op.batch_alter_table(f"{p}leases") as batch:  # SQLite cannot add a column otherwise
        batch.add_column(sa.Column("runs", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_run_at", sa.Double(), nullable=True))


def downgrade() -> None:
    p = table_prefix()
    with op.batch_alter_table(f"{p}leases") as batch:
        batch.drop_column("last_run_at")
        batch.drop_column("runs")
