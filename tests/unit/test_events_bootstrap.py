"""The composition root's event bus: in-process without a broker URL, closed at exit."""

from __future__ import annotations

import pytest

from lark_service.adapters.memory.event_bus import InMemoryEventBus
from lark_service.entrypoints.bootstrap import application
from lark_service.entrypoints.settings import Settings

pytestmark = pytest.mark.anyio


async def test_event_bus_is_in_process_without_a_broker() -> None:
    got: list[bytes] = []

    async def handler(payload: bytes) -> None:
        got.append(payload)

    async with application(Settings()) as app:
        bus = await app.gateways.event_bus()
        assert isinstance(bus, InMemoryEventBus)
        assert await app.gateways.event_bus() is bus  # one bus per application
        await bus.subscribe("cli_x.message.sent", handler)
        await bus.publish("cli_x.message.sent", b"{}")
    assert got == [b"{}"]
    await bus.publish("cli_x.message.sent", b"after")  # closed: no subscriber is left
    assert got == [b"{}"]
