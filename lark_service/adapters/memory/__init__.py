"""In-memory versions of every port: for tests and the embedded default."""

from lark_service.adapters.memory.clock import ManualClock, SystemClock
from lark_service.adapters.memory.event_bus import InMemoryEventBus
from lark_service.adapters.memory.metrics import InMemoryMetrics
from lark_service.adapters.memory.store import (
    InMemoryAppStore,
    InMemoryAppTicketStore,
    InMemoryProcessedEventStore,
    InMemoryTokenStore,
    InMemoryUserGrantStore,
    MemoryState,
    in_memory_stores,
)

__all__ = [
    "InMemoryAppStore",
    "InMemoryAppTicketStore",
    "InMemoryEventBus",
    "InMemoryMetrics",
    "InMemoryProcessedEventStore",
    "InMemoryTokenStore",
    "InMemoryUserGrantStore",
    "ManualClock",
    "MemoryState",
    "SystemClock",
    "in_memory_stores",
]
