"""A push to ``/v1/events/{app_id}`` reaches a RabbitMQ subscriber of its routing key, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lark_service.adapters.amqp import AmqpEventBus, EventBusOptions
from lark_service.application import CredentialPool
from lark_service.domain import AppConfig
from lark_service.entrypoints.http import create_app
from lark_service.entrypoints.http.wiring import open_services
from tests.integration.amqp_scratch import AMQP_URL, eventually, scratch_prefix
from tests.unit.events_support import ENCRYPT_KEY, TOKEN, encrypted, event_v2, signed

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
async def bus() -> AsyncIterator[AmqpEventBus]:
    async with scratch_prefix() as prefix:
        b = await AmqpEventBus.connect(AMQP_URL, EventBusOptions(prefix=prefix))
        yield b
        await b.aclose()


async def test_event_reaches_the_subscriber_once(bus: AmqpEventBus, pool: CredentialPool) -> None:
    domain = pool.apps.get("cli_app0").domain
    await pool.apps.add(
        AppConfig(
            app_id="cli_x",
            app_secret="s",
            domain=domain,
            encrypt_key=ENCRYPT_KEY,
            verification_token=TOKEN,
        )
    )
    got: list[bytes] = []
    other: list[bytes] = []

    async def on_message(payload: bytes) -> None:
        got.append(payload)

    async def on_other(payload: bytes) -> None:
        other.append(payload)

    await bus.subscribe("cli_x.im.message.receive_v1", on_message)
    await bus.subscribe("cli_y.#", on_other)
    raw = event_v2(app_id="cli_x", event_id="ev-amqp")
    async with open_services(pool, bus=bus) as services:
        # httpx's ASGI transport runs the app on this loop, where the broker connection lives
        # (Litestar's test client runs it on a loop of its own)
        app: Any = create_app(services)  # an ASGI app; httpx types its scope more narrowly
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lark") as client:
            for _ in range(3):
                body = encrypted(raw)
                r = await client.post("/v1/events/cli_x", content=body, headers=signed(body))
                assert r.status_code == 200, r.text
    await eventually(lambda: len(got) == 1)
    await asyncio.sleep(0.2)  # time for a second copy to arrive, if one had been published
    assert got == [raw] and other == []
