"""The ports: what the application needs from the outside world, as Protocols."""

from lark_service.domain.ports.app_tickets import AppTicketStore
from lark_service.domain.ports.apps import AppStore
from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.credentials import CredentialStores
from lark_service.domain.ports.events import EventBus, EventHandler
from lark_service.domain.ports.metrics import Metrics
from lark_service.domain.ports.processed_events import ProcessedEventStore
from lark_service.domain.ports.token_issuer import TokenIssuer
from lark_service.domain.ports.tokens import TokenStore
from lark_service.domain.ports.transport import LarkTransport
from lark_service.domain.ports.user_grants import UserGrantStore

__all__ = [
    "AppStore",
    "AppTicketStore",
    "Clock",
    "CredentialStores",
    "EventBus",
    "EventHandler",
    "LarkTransport",
    "Metrics",
    "ProcessedEventStore",
    "TokenIssuer",
    "TokenStore",
    "UserGrantStore",
]
