"""Initial credential-store schema.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Table names come from ``table_prefix()``; write ``f"{p}name"``, never a bare name.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lark_service.adapters.postgres.migrations import table_prefix

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    p = table_prefix()
    op.create_table(
        f"{p}meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        f"{p}apps",
        sa.Column("app_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("app_type", sa.String(32), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("app_secret", sa.Text(), nullable=False),
        sa.Column("encrypt_key", sa.Text(), nullable=True),
        sa.Column("verification_token", sa.Text(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        f"{p}tokens",
        sa.Column("app_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("tenant_key", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        f"{p}app_tickets",
        sa.Column("app_id", sa.String(64), primary_key=True),
        sa.Column("ticket", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        f"{p}user_tokens",
        sa.Column("app_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("refresh_expires_at", sa.Double(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        f"{p}processed_events",
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("expires_at", sa.Double(), nullable=False),
    )
    op.create_index(f"ix_{p}processed_events_expires_at", f"{p}processed_events", ["expires_at"])


def downgrade() -> None:
    p = table_prefix()
    op.drop_index(f"ix_{p}processed_events_expires_at", table_name=f"{p}processed_events")
    for name in ("processed_events", "user_tokens", "app_tickets", "tokens", "apps", "meta"):
        op.drop_table(f"{p}{name}")
