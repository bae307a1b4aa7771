from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

EventHandler = Callable[[bytes], Awaitable[None]]


class EventBus(Protocol):
    """Publishes and delivers messages (events, send jobs) by topic."""

    async def publish(self, topic: str, payload: bytes) -> None: ...

    async def subscribe(self, topic: str, handler: EventHandler) -> None: ...

    async def aclose(self) -> None: ...
