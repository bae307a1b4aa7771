"""The ports: what the application needs from the outside world, as Protocols."""

from domain.ports.clock import Clock
from domain.ports.credentials import CredentialStore
from domain.ports.events import EventBus, EventHandler
from domain.ports.metrics import Metrics
from domain.ports.token_issuer import TokenIssuer
from domain.ports.transport import LarkTransport

__all__ = [
    "Clock",
    "CredentialStore",
    "EventBus",
    "EventHandler",
    "LarkTransport",
    "Metrics",
    "TokenIssuer",
]
