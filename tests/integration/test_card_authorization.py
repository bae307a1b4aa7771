"""Card authorization end to end: the service on a socket, the fake Lark on another.

A card asked for over the HTTP API reaches the user at the fake; the fake clicks a button on
it (the card callback, over the webhook or the long connection) and the answer comes back;
the browser goes through the fake's authorize page to the service's redirect route, the code
is exchanged, and the card at the fake turns "authorized" in place (same message). Token care:
three upkeep runs over an expiring grant send one card, one event, one metric count.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn

from lark_service.adapters.memory import InMemoryMetrics
from lark_service.adapters.memory.event_bus import InMemoryEventBus
from lark_service.adapters.memory.leases import InMemoryLeaseStore
from lark_service.domain import AppConfig
from lark_service.domain.apps import EventMode
from lark_service.entrypoints.embed import open_pool
from lark_service.entrypoints.http import Services, create_app
from lark_service.entrypoints.http.wiring import open_services
from lark_service.entrypoints.long_connection import open_long_connections
from lark_service.testing import FakeLark, serve_in_thread
from lark_service.testing.fake_lark.cards import FakeCards, cards_of

from .lark_ws_support import NONCE, OPTIONS, PING, RECONNECT

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

APP = "cli_card_e2e"
SECRET = "card-e2e-secret-0123"
ENCRYPT_KEY = "card-e2e-encrypt-key"
TOKEN = "card-e2e-verification"
USER = "ou_alice"
ACCOUNTS = "https://accounts.feishu.cn"


@dataclass
class Stack:
    fake: FakeLark
    cards: FakeCards
    services: Services
    bus: InMemoryEventBus
    metrics: InMemoryMetrics
    url: str  # the service's
    fake_url: str
    http: httpx.AsyncClient
    key: dict[str, str]  # an admin API key's header

    async def request_card(self, user: str = USER) -> str:
        r = await self.http.post(
            f"{self.url}/v1/users/{user}/grant/request", json={"app_id": APP}, headers=self.key
        )
        assert r.status_code == 200, r.text
        message_id = r.json()["message_id"]
        assert isinstance(message_id, str) and message_id
        return message_id

    def header(self, message_id: str) -> tuple[str, str]:
        head = self.cards.card(message_id)["header"]
        return head["template"], head["title"]["content"]

    def authorize_url(self, message_id: str) -> str:
        url = self.cards.buttons(message_id)["Authorize"]["url"]
        assert isinstance(url, str) and url.startswith(ACCOUNTS)
        return url

    async def sign_in(self, authorize_url: str, user: str = USER) -> httpx.Response:
        """The user's browser: Lark's authorize page (the fake's), then back to the service."""
        at_fake = self.fake_url + authorize_url.removeprefix(ACCOUNTS)
        return await self.http.get(at_fake, headers={"X-Fake-User": user}, follow_redirects=True)

    def cards_to(self, user: str = USER) -> list[dict[str, Any]]:
        return [
            m
            for m in self.fake.messages
            if m["msg_type"] == "interactive" and m["receive_id"] == user
        ]


async def eventually(check: Callable[[], bool], *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:g} s: {what}")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def served(app_config: AppConfig, fake_url: str) -> AsyncIterator[tuple[Services, str]]:
    """The HTTP service on a socket of its own, on this loop (so the test sees its state)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    metrics, bus = InMemoryMetrics(), InMemoryEventBus()
    async with open_pool(
        apps=[app_config], base_url=fake_url, default_app_id=APP, metrics=metrics
    ) as pool:
        async with open_services(
            pool, bus=bus, oauth_redirect_uri=f"{url}/v1/oauth/callback"
        ) as services:
            config = uvicorn.Config(
                create_app(services), log_level="warning", access_log=False, lifespan="on"
            )
            server = uvicorn.Server(config)
            task = asyncio.create_task(server.serve(sockets=[sock]))
            try:
                await eventually(lambda: server.started, within=10, what="the service started")
                yield services, url
            finally:
                server.should_exit = True
                await asyncio.wait_for(task, 10)
                sock.close()


@asynccontextmanager
async def stack(event_mode: EventMode) -> AsyncIterator[Stack]:
    fake = FakeLark()
    fake.add_app(APP, SECRET)
    fake.long_connections.set_config(
        PingInterval=PING, ReconnectNonce=NONCE, ReconnectInterval=RECONNECT
    )
    app_config = AppConfig(
        app_id=APP,
        app_secret=SECRET,
        encrypt_key=ENCRYPT_KEY,
        verification_token=TOKEN,
        event_mode=event_mode,
    )
    with serve_in_thread(fake) as running:
        async with served(app_config, running.base_url) as (services, url):
            key = (await services.keys.create(["admin"], name="e2e")).key
            assert isinstance(services.bus, InMemoryEventBus)
            metrics = services.pool.metrics
            assert isinstance(metrics, InMemoryMetrics)
            async with httpx.AsyncClient(timeout=10) as http:
                yield Stack(
                    fake,
                    cards_of(fake),
                    services,
                    services.bus,
                    metrics,
                    url,
                    running.base_url,
                    http,
                    {"Authorization": f"Bearer {key}"},
                )


async def new_link_then_sign_in(s: Stack, message_id: str, *, control: bool = False) -> None:
    """The routed "New link" button answers at once and replaces the link on the same card
    afterwards; signing in with the new link turns that card green. ``control``: click
    through the fake's control endpoint (as a test in another process would)."""
    old_url = s.authorize_url(message_id)
    if control:
        r = await s.http.post(
            f"{s.fake_url}/_fake/cards/click",
            json={"message_id": message_id, "button": "New link"},
        )
        assert r.status_code == 200, r.text
        answer = r.json()["data"]["answer"]
    else:
        answer = await s.cards.click(message_id, button="New link")
    assert answer == {"toast": {"type": "success", "content": "Here is a new link."}}
    await eventually(
        lambda: s.authorize_url(message_id) != old_url, within=5, what="the card's new link"
    )
    assert s.header(message_id)[0] == "blue"

    stale = await s.sign_in(old_url)
    assert stale.status_code == 400 and "already expired" in stale.text
    page = await s.sign_in(s.authorize_url(message_id))
    assert page.status_code == 200 and "is authorized" in page.text
    assert str(page.url).startswith(s.url + "/v1/oauth/callback")

    (message,) = s.cards_to()  # one card, updated in place
    assert message["message_id"] == message_id and message["updated"]
    assert s.header(message_id) == ("green", f"{APP} is authorized")
    status = await s.http.get(f"{s.url}/v1/users/{USER}/grant?app_id={APP}", headers=s.key)
    assert status.json()["authorized"] is True
    topics = [t for t, _ in s.bus.published]
    assert topics.count(f"{APP}.user_grant.granted") == 1


async def test_card_authorization_over_the_webhook() -> None:
    async with stack(EventMode.WEBHOOK) as s:
        s.cards.configure(
            APP,
            callback_url=f"{s.url}/v1/cards/{APP}",
            encrypt_key=ENCRYPT_KEY,
            verification_token=TOKEN,
        )
        message_id = await s.request_card()
        assert s.header(message_id) == ("blue", f"Authorize {APP}")
        assert set(s.cards.buttons(message_id)) == {"Authorize", "New link", "Cancel"}
        await new_link_then_sign_in(s, message_id)
        assert [c.via for c in s.cards.clicks] == ["webhook"]

        # a second user cancels from the card: a toast, then the card turns grey
        bob = await s.request_card("ou_bob")
        answer = await s.cards.click(bob, button="Cancel")
        assert answer["toast"]["content"] == "Authorization cancelled."
        await eventually(lambda: s.header(bob)[0] == "grey", within=5, what="cancelled card")


@pytest.mark.parametrize("frame_type", ["event", "card"])
async def test_card_authorization_over_the_long_connection(frame_type: str) -> None:
    async with stack(EventMode.WEBSOCKET) as s:
        s.cards.configure(APP, verification_token=TOKEN, frame_type=frame_type)
        apps = [s.services.pool.apps.get(APP)]
        deliver = s.services.events.accept
        async with open_long_connections(
            apps, deliver, InMemoryLeaseStore(), base_url=s.fake_url, options=OPTIONS
        ):
            await eventually(
                lambda: s.fake.long_connections.connections(APP) == 1,
                within=5,
                what="the long connection",
            )
            message_id = await s.request_card()
            await new_link_then_sign_in(s, message_id, control=frame_type == "card")
        assert [c.via for c in s.cards.clicks] == ["long_connection"]
        (ack,) = s.fake.long_connections.acks(APP)
        assert ack.code == 200 and ack.data["toast"]["type"] == "success"


async def test_an_expiring_grant_is_prompted_once() -> None:
    async with stack(EventMode.WEBHOOK) as s:
        page = await s.sign_in(s.authorize_url(await s.request_card()))
        assert page.status_code == 200
        grants = s.services.grants
        assert grants is not None
        # the fake's refresh tokens last 30 days: with a 31-day window the grant is expiring
        grants.expiring_within = 31 * 86400.0
        prompted = []
        for _ in range(3):  # the upkeep job's runs
            r = await s.http.post(f"{s.url}/v1/grants/upkeep", headers=s.key)
            assert r.status_code == 200, r.text
            prompted.append(r.json()["prompted"])
        assert prompted == [1, 0, 0]
        first, prompt = s.cards_to()  # the first card (authorized) and one prompt
        assert s.header(first["message_id"])[0] == "green"
        text = msgspec.json.encode(s.cards.card(prompt["message_id"])).decode()
        assert "will soon lose the permission" in text
        topics = [t for t, _ in s.bus.published]
        assert topics.count(f"{APP}.user_grant.expiring") == 1
        assert s.metrics.token_refreshes[(APP, "user_grant", "expiring")] == 1
