"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Table names come from ``table_prefix()``; write ``f"{p}name"``, never a bare name.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lark_service.adapters.postgres.migrations import table_prefix
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | None = ${repr(branch_labels)}
depends_on: str | None = ${repr(depends_on)}


def upgrade() -> None:
    p = table_prefix()
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    p = table_prefix()
    ${downgrades if downgrades else "pass"}
