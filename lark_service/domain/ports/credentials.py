"""The credential stores as one bundle, for wiring only.

The application depends on the narrow ports (`AppStore`, `TokenStore`, `AppTicketStore`,
`UserGrantStore`, `ProcessedEventStore`); an adapter builds all of them on one backend (one
SQL engine, one set of dicts) and hands them over together in a `CredentialStores`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lark_service.domain.ports.app_tickets import AppTicketStore
from lark_service.domain.ports.apps import AppStore
from lark_service.domain.ports.processed_events import ProcessedEventStore
from lark_service.domain.ports.tokens import TokenStore
from lark_service.domain.ports.user_grants import UserGrantStore

__all__ = [
    "AppStore",
    "AppTicketStore",
    "CredentialStores",
    "ProcessedEventStore",
    "TokenStore",
    "UserGrantStore",
]


@dataclass(frozen=True, slots=True)
class CredentialStores:
    """One store per concern, all on the same backend."""

    apps: AppStore
    tokens: TokenStore
    app_tickets: AppTicketStore
    user_grants: UserGrantStore
    processed_events: ProcessedEventStore
