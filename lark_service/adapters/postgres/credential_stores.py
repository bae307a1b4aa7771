"""The five credential stores on one `SqlDatabase`, bundled for wiring."""

from __future__ import annotations

from lark_service.adapters.postgres.app_tickets import SqlAppTicketStore
from lark_service.adapters.postgres.apps import SqlAppStore
from lark_service.adapters.postgres.database import SqlDatabase
from lark_service.adapters.postgres.processed_events import SqlProcessedEventStore
from lark_service.adapters.postgres.tokens import SqlTokenStore
from lark_service.adapters.postgres.user_grants import SqlUserGrantStore
from lark_service.domain.ports.credentials import CredentialStores

__all__ = ["sql_credential_stores"]


def sql_credential_stores(db: SqlDatabase) -> CredentialStores:
    """Every credential store on ``db`` (which the caller opens and closes)."""
    return CredentialStores(
        apps=SqlAppStore(db),
        tokens=SqlTokenStore(db),
        app_tickets=SqlAppTicketStore(db),
        user_grants=SqlUserGrantStore(db),
        processed_events=SqlProcessedEventStore(db),
    )
