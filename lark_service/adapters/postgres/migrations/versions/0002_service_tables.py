"""The HTTP service's tables: send jobs and API keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lark_service.adapters.postgres.migrations import table_prefix

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    p = table_prefix()
    op.create_table(
        f"{p}jobs",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("error_code", sa.BigInteger(), nullable=True),
        sa.Column("error_msg", sa.Text(), nullable=True),
        sa.Column("log_id", sa.String(255), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
    )
    op.create_index(f"ix_{p}jobs_status_updated_at", f"{p}jobs", ["status", "updated_at"])
    op.create_table(
        f"{p}api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("revoked_at", sa.Double(), nullable=True),
        sa.UniqueConstraint("key_hash", name=f"uq_{p}api_keys_key_hash"),
    )


def downgrade() -> None:
    p = table_prefix()
    op.drop_table(f"{p}api_keys")
    op.drop_index(f"ix_{p}jobs_status_updated_at", table_name=f"{p}jobs")
    op.drop_table(f"{p}jobs")
