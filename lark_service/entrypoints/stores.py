"""Opening the configured credential store: a SQL database, or the embedded SQLite default."""

from __future__ import annotations

import os

from lark_service.adapters.postgres import SqlCredentialStore, default_database_url, upgrade_async
from lark_service.entrypoints.embed import DATABASE_URL_ENV

SECRET_KEY_ENV = "LARK_SERVICE_SECRET_KEY"  # noqa: S105  # nosec B105 - a variable name


def configured_database_url(explicit: str | None = None) -> tuple[str, bool]:
    """The database URL to use and whether it is the embedded default."""
    url = explicit or os.environ.get(DATABASE_URL_ENV)
    if url:
        return url, False
    return default_database_url(), True


async def open_sql_store(
    database_url: str | None = None, *, secret_key: str | None = None, table_prefix: str = "lark_"
) -> SqlCredentialStore:
    """Open the SQL store; the embedded default is migrated on the fly.

    A database named explicitly must have been migrated (``lark-service db upgrade``); the
    store refuses to open otherwise, with a message saying so.
    """
    url, embedded = configured_database_url(database_url)
    if embedded:
        await upgrade_async(url)
    key = secret_key if secret_key is not None else os.environ.get(SECRET_KEY_ENV)
    return await SqlCredentialStore.open(url, secret_key=key, table_prefix=table_prefix)
