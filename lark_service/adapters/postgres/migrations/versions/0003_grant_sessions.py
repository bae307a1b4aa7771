"""OAuth authorization sessions (pending / completed / expired / failed).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lark_service.adapters.postgres.migrations import table_prefix

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    p = table_prefix()
    op.create_table(
        f"{p}grant_sessions",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
    )
    op.create_index(
        f"ix_{p}grant_sessions_status_app_user",
        f"{p}grant_sessions",
        ["status", "app_id", "user_id"],
    )


def downgrade() -> None:
    p = table_prefix()
    op.drop_index(f"ix_{p}grant_sessions_status_app_user", table_name=f"{p}grant_sessions")
    op.drop_table(f"{p}grant_sessions")
