from __future__ import annotations

import asyncio
from collections import defaultdict

from lark_service.domain.ports.events import EventBus, EventHandler


class InMemoryEventBus(EventBus):
    """Delivers each published message to every handler of its topic, in-process."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[EventHandler]] = defaultdict(list)
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, payload: bytes) -> None:
        self.published.append((topic, payload))
        handlers = list(self._handlers.get(topic, ()))
        if handlers:
            await asyncio.gather(*(h(payload) for h in handlers))

    async def subscribe(self, topic: str, handler: EventHandler) -> None:
        self._handlers[topic].append(handler)

    async def aclose(self) -> None:
        self._handlers.clear()
