"""SQL persistence for the credential stores: PostgreSQL for shared use, SQLite embedded.

    db = await SqlDatabase.open(url, secret_key=settings.secret_key)
    stores = sql_credential_stores(db)   # apps, tokens, app_tickets, user_grants, events
    ...
    await db.aclose()

Create the schema first with ``upgrade(url)`` / ``await upgrade_async(url)``
(``lark-service db upgrade``). Each concern's store is its own module over the one
`SqlDatabase`; a new store (API keys, jobs) is a new module plus a new migration.
"""

from __future__ import annotations

from lark_service.adapters.postgres.app_tickets import SqlAppTicketStore
from lark_service.adapters.postgres.apps import SqlAppStore
from lark_service.adapters.postgres.credential_stores import sql_credential_stores
from lark_service.adapters.postgres.crypto import SecretCipher, generate_key
from lark_service.adapters.postgres.database import SqlDatabase
from lark_service.adapters.postgres.deadlines import DEFAULT_DEADLINES, StoreDeadlines
from lark_service.adapters.postgres.embedded import (
    embedded_database_file,
    embedded_database_url,
    open_embedded_database,
)
from lark_service.adapters.postgres.migrations import (
    current,
    current_async,
    downgrade,
    downgrade_async,
    upgrade,
    upgrade_async,
)
from lark_service.adapters.postgres.processed_events import SqlProcessedEventStore
from lark_service.adapters.postgres.rotation import rotate_secret_key
from lark_service.adapters.postgres.tokens import SqlTokenStore
from lark_service.adapters.postgres.user_grants import SqlUserGrantStore

__all__ = [
    "DEFAULT_DEADLINES",
    "SecretCipher",
    "SqlAppStore",
    "SqlAppTicketStore",
    "SqlDatabase",
    "SqlProcessedEventStore",
    "SqlTokenStore",
    "SqlUserGrantStore",
    "StoreDeadlines",
    "current",
    "current_async",
    "downgrade",
    "downgrade_async",
    "embedded_database_file",
    "embedded_database_url",
    "generate_key",
    "open_embedded_database",
    "rotate_secret_key",
    "sql_credential_stores",
    "upgrade",
    "upgrade_async",
]
