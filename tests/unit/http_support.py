"""Fixtures for the HTTP API tests: the app on in-memory adapters and the fake Lark server.

Requests go through Litestar's in-process test client (no socket for the API); the pool
talks to the session's fake Lark server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from lark_service.adapters.memory.send_queue import InMemorySendQueue
from lark_service.application import CredentialPool
from lark_service.entrypoints.http import Services, create_app
from lark_service.entrypoints.http.wiring import open_services

MAX_ATTEMPTS = 3


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)  # yield only: retries run without real waiting


@dataclass
class Api:
    """The test client with one key per scope."""

    client: AsyncTestClient[Any]
    services: Services
    admin: dict[str, str]
    send: dict[str, str]
    read: dict[str, str]

    @property
    def queue(self) -> InMemorySendQueue:
        queue = self.services.sending.queue
        assert isinstance(queue, InMemorySendQueue)
        return queue


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(name="api")
async def api_fixture(pool: CredentialPool) -> AsyncIterator[Api]:
    async with open_services(pool, max_attempts=MAX_ATTEMPTS, sleep=no_wait) as services:
        keys = services.keys
        admin = (await keys.create(["admin"], name="admin")).key
        send = (await keys.create(["send"], name="sender")).key
        read = (await keys.create(["read"], name="reader")).key
        async with AsyncTestClient(app=create_app(services)) as client:
            yield Api(client, services, bearer(admin), bearer(send), bearer(read))
