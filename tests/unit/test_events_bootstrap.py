"""The composition root's event bus (in-process without a broker URL, closed at exit) and
the event intake's settings."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from lark_service.adapters.memory.event_bus import InMemoryEventBus
from lark_service.entrypoints import cli_service
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


def test_the_dedup_retention_setting_reaches_the_event_intake(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("CONFIG", "DATABASE_URL", "AMQP_URL", "METRICS_ENABLED"):
        monkeypatch.delenv(f"LARK_SERVICE_{name}", raising=False)
    monkeypatch.setenv("LARK_SERVICE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LARK_SERVICE_EVENT_DEDUP_RETENTION", "172800")

    async def opened() -> tuple[float, float]:
        # what ``serve`` opens; on a real loop: the embedded SQLite store answers from a thread
        async with cli_service._services(argparse.Namespace()) as (settings, services):
            return settings.event_dedup_retention, services.events.dedup_ttl

    assert asyncio.run(opened()) == (172800.0, 172800.0)
