"""``POST /v1/events/{app_id}`` and ``/v1/cards/{app_id}``: pushes made as Lark makes them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from lark_service.adapters.memory.event_bus import InMemoryEventBus
from lark_service.adapters.memory.metrics import InMemoryMetrics
from lark_service.application import CredentialPool
from lark_service.domain import AppConfig
from lark_service.domain.apps import AppType
from lark_service.domain.events import LarkEvent
from lark_service.entrypoints.http import Services, create_app
from lark_service.entrypoints.http.wiring import open_services
from lark_service.testing.fake_lark import FakeLark

from .events_support import (
    ENCRYPT_KEY,
    TOKEN,
    app_ticket_v1,
    card_action_v1,
    card_action_v2,
    encrypted,
    event_v2,
    signed,
    signed_card_v1,
    url_verification,
)

pytestmark = pytest.mark.anyio

MARKET_SECRET = "secret-cli_mkt"


@dataclass
class Hooks:
    client: AsyncTestClient[Any]
    services: Services
    bus: InMemoryEventBus

    async def push(
        self, app_id: str, body: bytes, headers: dict[str, str] | None = None, path: str = "events"
    ) -> Any:
        return await self.client.post(f"/v1/{path}/{app_id}", content=body, headers=headers or {})


@pytest.fixture
async def hooks(pool: CredentialPool, fake: FakeLark) -> AsyncIterator[Hooks]:
    domain = pool.apps.get("cli_app0").domain
    fake.add_app("cli_mkt", MARKET_SECRET, app_type="marketplace")
    for app_id, secret, app_type, encrypt_key in (
        ("cli_ev", "s", AppType.SELF_BUILT, ENCRYPT_KEY),
        ("cli_tok", "s", AppType.SELF_BUILT, None),  # verification token only
        ("cli_mkt", MARKET_SECRET, AppType.MARKETPLACE, ENCRYPT_KEY),
    ):
        app = AppConfig(
            app_id=app_id,
            app_secret=secret,
            app_type=app_type,
            domain=domain,
            encrypt_key=encrypt_key,
            verification_token=TOKEN,
        )
        await pool.apps.add(app)
    bus = InMemoryEventBus()
    async with open_services(pool, bus=bus) as services:
        async with AsyncTestClient(app=create_app(services)) as client:
            yield Hooks(client, services, bus)


async def test_challenge_answered_plain_and_encrypted(hooks: Hooks) -> None:
    r = await hooks.push("cli_tok", url_verification("plain-1"))
    assert r.status_code == 200 and r.json() == {"challenge": "plain-1"}
    r = await hooks.push("cli_ev", encrypted(url_verification("enc-2")))
    assert r.status_code == 200 and r.json() == {"challenge": "enc-2"}
    r = await hooks.push("cli_ev", encrypted(url_verification("c", token="wrong")))
    assert r.status_code == 401
    assert hooks.bus.published == []


async def test_event_delivered_three_times_is_published_once(hooks: Hooks) -> None:
    plaintext = event_v2(app_id="cli_ev", event_id="ev-three")
    for attempt in range(3):
        body = encrypted(plaintext)  # each delivery: a new IV, a new signature
        r = await hooks.push("cli_ev", body, signed(body, nonce=f"n{attempt}"))
        assert r.status_code == 200, r.text
    assert hooks.bus.published == [("cli_ev.im.message.receive_v1", plaintext)]
    metrics = hooks.services.pool.metrics
    assert isinstance(metrics, InMemoryMetrics)
    assert metrics.events_received[("cli_ev", "im.message.receive_v1")] == 3
    assert metrics.events_deduplicated[("cli_ev", "im.message.receive_v1")] == 2


async def test_plain_event_with_token_only_is_published(hooks: Hooks) -> None:
    plaintext = event_v2(app_id="cli_tok", event_type="im.chat.member.bot.added_v1")
    r = await hooks.push("cli_tok", plaintext)
    assert r.status_code == 200 and r.json() == {"msg": "success"}
    assert hooks.bus.published == [("cli_tok.im.chat.member.bot.added_v1", plaintext)]


async def test_forged_pushes_are_refused_and_nothing_published(hooks: Hooks) -> None:
    good = encrypted(event_v2(app_id="cli_ev"))
    headers = signed(good)
    bad_signature = {**headers, "X-Lark-Signature": "0" * 64}
    r = await hooks.push("cli_ev", good, bad_signature)
    assert r.status_code == 401 and r.json()["error"] == "BadSignatureError"
    assert r.headers["content-type"].startswith("application/problem+json")

    wrong_token = encrypted(event_v2(app_id="cli_ev", token="guessed"))
    r = await hooks.push("cli_ev", wrong_token, signed(wrong_token))
    assert r.status_code == 401 and r.json()["error"] == "WrongTokenError"
    r = await hooks.push("cli_tok", event_v2(app_id="cli_tok", token="guessed"))
    assert r.status_code == 401 and r.json()["error"] == "WrongTokenError"

    r = await hooks.push("cli_ev", good, signed(good, timestamp=time.time() - 600))
    assert r.status_code == 401 and r.json()["error"] == "StaleEventError"

    for garbage in (b"garbage", b'{"encrypt": "bm90IGFlcw=="}', encrypted(b"not json")):
        r = await hooks.push("cli_ev", garbage, signed(garbage))
        assert r.status_code == 400 and r.json()["error"] == "EventDecodeError", garbage

    r = await hooks.push("cli_app0", url_verification())  # no encrypt key, no token
    assert r.status_code == 403 and r.json()["error"] == "EventsNotConfiguredError"
    r = await hooks.push("cli_nope", url_verification())
    assert r.status_code == 404
    assert hooks.bus.published == []
    assert TOKEN not in r.text and ENCRYPT_KEY not in r.text

    metrics = hooks.services.pool.metrics
    assert isinstance(metrics, InMemoryMetrics)
    assert metrics.events_rejected[("cli_ev", "unknown", "BadSignatureError")] == 1
    assert metrics.events_rejected[("cli_ev", "unknown", "EventDecodeError")] == 3

    # the genuine push still goes through afterwards: a refusal recorded nothing
    r = await hooks.push("cli_ev", good, headers)
    assert r.status_code == 200 and len(hooks.bus.published) == 1


async def test_app_ticket_is_stored_and_lets_the_pool_get_a_token(
    hooks: Hooks, fake: FakeLark
) -> None:
    pool = hooks.services.pool
    ticket = fake.push_app_ticket("cli_mkt")
    body = encrypted(app_ticket_v1(app_id="cli_mkt", ticket=ticket))
    r = await hooks.push("cli_mkt", body, signed(body))
    assert r.status_code == 200
    assert await pool.ticket_store.load_app_ticket("cli_mkt") == ticket
    token = await pool.app_access_token("cli_mkt")
    assert token
    assert hooks.bus.published == []  # tickets are kept, not published


async def test_card_handler_return_is_the_response(hooks: Hooks) -> None:
    seen: list[LarkEvent] = []

    async def on_card(event: LarkEvent) -> dict[str, Any]:
        seen.append(event)
        value = event.event["action"]["value"]
        return {
            "toast": {"type": "success", "content": f"got {value['n']}"},
            "card": {"type": "raw", "data": {"elements": []}},
        }

    hooks.services.events.register_card_handler(on_card, app_id="cli_ev")
    body = encrypted(card_action_v2(app_id="cli_ev", value={"n": 1}))
    r = await hooks.push("cli_ev", body, signed(body), path="cards")
    assert r.status_code == 200
    assert r.json()["toast"] == {"type": "success", "content": "got 1"}
    assert r.json()["card"]["type"] == "raw"

    old = card_action_v1({"n": 2})
    r = await hooks.push("cli_ev", old, signed_card_v1(old), path="cards")
    assert r.status_code == 200 and r.json()["toast"]["content"] == "got 2"
    assert [e.event_type for e in seen] == ["card.action.trigger", "card.action.trigger_v1"]
    assert hooks.bus.published == []


async def test_late_card_handler_is_answered_in_time(hooks: Hooks) -> None:
    never = asyncio.Event()

    async def slow(_: LarkEvent) -> dict[str, Any]:
        await never.wait()
        return {"toast": {"type": "info", "content": "too late"}}

    hooks.services.events.card_deadline = 0.05
    hooks.services.events.register_card_handler(slow)  # every app
    body = encrypted(card_action_v2(app_id="cli_ev", value={}))
    started = time.monotonic()
    r = await hooks.push("cli_ev", body, signed(body), path="cards")
    assert r.status_code == 200 and r.json() == {}
    assert time.monotonic() - started < 2.0


async def test_card_without_handler_is_published(hooks: Hooks) -> None:
    plaintext = card_action_v2(app_id="cli_ev", value={"x": 1})
    body = encrypted(plaintext)
    r = await hooks.push("cli_ev", body, signed(body), path="cards")
    assert r.status_code == 200 and r.json() == {}
    assert hooks.bus.published == [("cli_ev.card.action.trigger", plaintext)]


async def test_event_routes_need_no_api_key_and_are_in_the_spec(hooks: Hooks) -> None:
    spec = msgspec.json.decode((await hooks.client.get("/openapi.json")).content)
    for path in ("/v1/events/{app_id}", "/v1/cards/{app_id}"):
        operation = spec["paths"][path]["post"]
        assert "security" not in operation and "401" in operation["responses"]
