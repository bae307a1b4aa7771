"""Alembic environment: runs on a connection handed over in ``config.attributes``.

``lark_service.adapters.postgres.migrations`` opens an async engine for the URL and passes its sync
connection in, so the same code serves PostgreSQL and SQLite and the URL never goes
through ``alembic.ini`` interpolation. Offline (``--sql``) mode is not supported.
"""

from __future__ import annotations

from alembic import context

from lark_service.adapters.postgres.migrations import table_prefix, version_table
from lark_service.adapters.postgres.schema import build_tables

config = context.config
connection = config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("run migrations through adapters.postgres.migrations (lark-service db)")

context.configure(
    connection=connection,
    target_metadata=build_tables(table_prefix()).metadata,
    version_table=version_table(table_prefix()),
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
