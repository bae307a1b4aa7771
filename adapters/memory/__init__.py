"""In-memory versions of every port: for tests and the embedded default."""

from adapters.memory.clock import ManualClock, SystemClock
from adapters.memory.event_bus import InMemoryEventBus
from adapters.memory.metrics import InMemoryMetrics
from adapters.memory.store import InMemoryCredentialStore

__all__ = [
    "InMemoryCredentialStore",
    "InMemoryEventBus",
    "InMemoryMetrics",
    "ManualClock",
    "SystemClock",
]
