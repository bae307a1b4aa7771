"""The ports: what the application needs from the outside world, as Protocols."""

from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.credentials import CredentialStore
from lark_service.domain.ports.events import EventBus, EventHandler
from lark_service.domain.ports.metrics import Metrics
from lark_service.domain.ports.token_issuer import TokenIssuer
from lark_service.domain.ports.transport import LarkTransport

__all__ = [
    "Clock",
    "CredentialStore",
    "EventBus",
    "EventHandler",
    "LarkTransport",
    "Metrics",
    "TokenIssuer",
]
