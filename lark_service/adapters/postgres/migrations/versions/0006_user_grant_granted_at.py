"""When each user grant was given: ``granted_at`` on the user tokens.

Grants kept before this revision get NULL: the time they were given is not known.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lark_service.adapters.postgres.migrations import table_prefix

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    p = table_prefix()
    with op.batch_alter_table(f"{p}user_tokens") as batch:  # SQLite cannot add a column otherwise
        batch.add_column(sa.Column("granted_at", sa.Double(), nullable=True))


def downgrade() -> None:
    p = table_prefix()
    with op.batch_alter_table(f"{p}user_tokens") as batch:
        batch.drop_column("granted_at")
