"""Leases (one long connection per app across replicas) and each app's event mode.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lark_service.adapters.postgres.migrations import table_prefix

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    p = table_prefix()
    op.create_table(
        f"{p}leases",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
    )
    with op.batch_alter_table(f"{p}apps") as batch:  # SQLite cannot add a column otherwise
        batch.add_column(
            sa.Column("event_mode", sa.String(16), nullable=False, server_default="webhook")
        )


def downgrade() -> None:
    p = table_prefix()
    with op.batch_alter_table(f"{p}apps") as batch:
        batch.drop_column("event_mode")
    op.drop_table(f"{p}leases")
