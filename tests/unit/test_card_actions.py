"""Card callbacks routed by action name: precedence, bad values, deadlines, updates after the
answer; and the authorization card's buttons through the HTTP card callback URL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from lark_service.adapters.memory import ManualClock
from lark_service.adapters.memory.event_bus import InMemoryEventBus
from lark_service.adapters.memory.store import (
    InMemoryAppTicketStore,
    InMemoryProcessedEventStore,
    MemoryState,
)
from lark_service.application import CredentialPool
from lark_service.application.usecases.card_actions import CardAction, CardAnswer, read_action
from lark_service.application.usecases.events import EventIntake
from lark_service.application.usecases.grant_cards import GRANT_CANCEL
from lark_service.domain import AppConfig
from lark_service.domain.errors import ConfigError
from lark_service.domain.events import LarkEvent, parse_event
from lark_service.entrypoints.http import Services, create_app
from lark_service.entrypoints.http.wiring import open_services
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark.auth import approve
from lark_service.testing.fake_lark.cards import CardCallbackError, FakeCards, cards_of

from .events_support import ENCRYPT_KEY, TOKEN, card_action_v1, card_action_v2, event_v2

pytestmark = pytest.mark.anyio

APP = "cli_x"
OTHER = "cli_y"


def make_intake(bus: InMemoryEventBus | None = None) -> EventIntake:
    state = MemoryState()
    return EventIntake(
        bus=bus or InMemoryEventBus(),
        processed=InMemoryProcessedEventStore(state),
        tickets=InMemoryAppTicketStore(state),
        clock=ManualClock(),
    )


def click(value: Any, app_id: str = APP) -> LarkEvent:
    return parse_event(card_action_v2(app_id=app_id, value=value))


def toast(text: str) -> dict[str, Any]:
    return {"toast": {"type": "info", "content": text}}


def answering(text: str, seen: list[CardAction] | None = None) -> Any:
    async def handler(action: CardAction) -> dict[str, Any]:
        if seen is not None:
            seen.append(action)
        return toast(text)

    return handler


async def test_routed_by_the_action_name_in_both_callback_shapes() -> None:
    intake, seen = make_intake(), list[CardAction]()
    intake.register_card_action("approve", answering("approved", seen))
    intake.register_card_action("reject", answering("rejected"))
    assert await intake.accept(APP, click({"action": "approve", "id": 7})) == toast("approved")
    assert await intake.accept(APP, click({"action": "reject"})) == toast("rejected")
    assert await intake.accept(APP, click("approve")) == toast("approved")  # a string value
    old = parse_event(card_action_v1({"action": "approve", "id": 8}))
    assert await intake.accept(APP, old) == toast("approved")
    assert [a.value.get("id") for a in seen] == [7, None, 8]
    first = seen[0]
    assert (first.app_id, first.operator_open_id, first.message_id, first.chat_id) == (
        APP,
        "ou_1",
        "om_1",
        "oc_1",
    )
    assert first.update_token == "c-update-token" and "c-update-token" not in repr(first)


async def test_the_apps_own_action_wins_then_any_apps_then_the_card_handler() -> None:
    intake = make_intake()
    intake.register_card_action("go", answering("any app"))
    intake.register_card_action("go", answering("app x"), app_id=APP)

    async def card_handler(event: LarkEvent) -> dict[str, Any]:
        return toast("card handler")

    intake.register_card_handler(card_handler, app_id=APP)
    assert await intake.accept(APP, click({"action": "go"})) == toast("app x")
    assert await intake.accept(OTHER, click({"action": "go"}, OTHER)) == toast("any app")
    # an action nobody registered, and no action at all, go to the app's card handler
    assert await intake.accept(APP, click({"action": "other"})) == toast("card handler")
    assert await intake.accept(APP, click({"k": "v"})) == toast("card handler")
    assert await intake.accept(OTHER, click({"action": "other"}, OTHER)) == {}


@pytest.mark.parametrize(
    "value",
    [None, [], 3, {}, {"action": 5}, {"action": ""}, {"action": "x" * 500}, {"action": "nope"}],
)
async def test_a_bad_or_unknown_value_is_answered_empty_and_logged(
    value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bus = InMemoryEventBus()
    intake = make_intake(bus)
    intake.register_card_action("go", answering("go"))
    with caplog.at_level(logging.INFO, logger="lark_service.events"):
        assert await intake.accept(APP, click(value)) == {}
    assert any("action" in r.getMessage() for r in caplog.records)
    assert len(bus.published) == 1  # no handler took it: published like an event


def test_read_action_ignores_what_is_not_an_action() -> None:
    assert read_action(APP, click({"n": 1})) is None
    assert read_action(APP, parse_event(event_v2(app_id=APP))) is None  # not a callback


def test_names_are_checked_when_registered() -> None:
    intake = make_intake()
    with pytest.raises(ConfigError):
        intake.register_card_action("", answering("x"))
    with pytest.raises(ConfigError):
        CardAnswer.toast("x", kind="loud")


async def test_a_slow_action_is_cut_at_the_deadline_and_its_update_never_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    intake, updated = make_intake(), list[str]()
    intake.card_deadline = 0.5

    async def update() -> None:
        updated.append("card")

    async def slow(_: CardAction) -> CardAnswer:
        await asyncio.sleep(5)
        return CardAnswer.toast("late", then=update)

    intake.register_card_action("slow", slow)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.WARNING, logger="lark_service.events"):
        assert await intake.accept(APP, click({"action": "slow"})) == {}
    assert loop.time() - started == pytest.approx(0.5, abs=0.01)
    assert "took more than" in caplog.text
    assert await intake.card_updates.drain(10) and updated == []


async def test_a_failing_action_is_answered_empty() -> None:
    intake = make_intake()

    async def broken(_: CardAction) -> dict[str, Any]:
        raise RuntimeError("bug")

    intake.register_card_action("broken", broken)
    assert await intake.accept(APP, click({"action": "broken"})) == {}


async def test_the_update_runs_after_the_answer_and_its_failure_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    intake, order = make_intake(), list[str]()

    async def update() -> None:
        order.append("update")

    async def failing_update() -> None:
        order.append("failing update")
        raise ConfigError("Lark refused the card")

    async def hang() -> None:
        await asyncio.Event().wait()

    async def handler(action: CardAction) -> CardAnswer:
        then = {"ok": update, "fail": failing_update, "hang": hang}[action.value["then"]]
        return CardAnswer.toast("on it", then=then)

    intake.register_card_action("work", handler)
    answer = await intake.accept(APP, click({"action": "work", "then": "ok"}))
    order.append("answered")
    assert answer == {"toast": {"type": "info", "content": "on it"}}
    assert intake.card_updates.pending == 1
    assert await intake.card_updates.drain(5)
    assert order == ["answered", "update"]

    intake.card_updates.deadline = 1.0
    with caplog.at_level(logging.WARNING, logger="lark_service.events"):
        assert await intake.accept(APP, click({"action": "work", "then": "fail"})) != {}
        assert await intake.accept(APP, click({"action": "work", "then": "hang"})) != {}
        assert await intake.card_updates.drain(5)  # both ended: one failed, one cut
    assert order[-1] == "failing update"
    assert intake.card_updates.failed == 2
    assert "failed" in caplog.text and "took more than" in caplog.text


# -- the authorization card's buttons, through POST /v1/cards/{app_id} ------------------

REDIRECT = "https://svc.example/v1/oauth/callback"
WEB_APP = "cli_cards"


@dataclass
class Service:
    client: httpx.AsyncClient
    services: Services
    fake: FakeLark
    cards: FakeCards

    async def request_card(self, user: str = "ou_alice") -> str:
        grants = self.services.grants
        assert grants is not None
        session = await grants.request_user_authorization(user, app_id=WEB_APP)
        return session.message_id


@pytest.fixture
async def service(pool: CredentialPool, fake: FakeLark) -> AsyncIterator[Service]:
    fake.add_app(WEB_APP, "s-cards")
    app = AppConfig(
        app_id=WEB_APP,
        app_secret="s-cards",
        domain=pool.apps.get("cli_app0").domain,
        encrypt_key=ENCRYPT_KEY,
        verification_token=TOKEN,
    )
    await pool.apps.add(app)
    cards = cards_of(fake)
    path = f"/v1/cards/{WEB_APP}"
    cards.configure(WEB_APP, callback_url=path, encrypt_key=ENCRYPT_KEY, verification_token=TOKEN)
    async with open_services(pool, oauth_redirect_uri=REDIRECT) as services:
        # in this loop (Litestar's test client runs the app in a thread of its own), so
        # that the updates after the answers can be awaited here
        asgi: Any = create_app(services)  # an ASGI app; httpx types its scope more narrowly
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield Service(client, services, fake, cards)


def header(cards: FakeCards, message_id: str) -> tuple[str, str]:
    head = cards.card(message_id)["header"]
    return head["template"], head["title"]["content"]


async def test_cancel_answers_a_toast_then_updates_the_card(service: Service) -> None:
    message_id = await service.request_card()
    assert set(service.cards.buttons(message_id)) == {"Authorize", "New link", "Cancel"}
    with pytest.raises(ValueError, match="opens a link"):
        await service.cards.click(message_id, button="Authorize", client=service.client)
    answer = await service.cards.click(message_id, button="Cancel", client=service.client)
    assert answer["toast"]["type"] == "success"
    assert await service.services.events.card_updates.drain(5)
    assert header(service.cards, message_id) == ("grey", "Authorization cancelled")
    again = await service.cards.click(
        message_id, value={"action": GRANT_CANCEL, "session_id": "gone"}, client=service.client
    )
    assert again["toast"]["type"] == "error"  # no such session: nothing changes


async def test_new_link_replaces_the_link_on_the_same_card(service: Service) -> None:
    message_id = await service.request_card()
    old_url = service.cards.buttons(message_id)["Authorize"]["url"]
    answer = await service.cards.click(message_id, button="New link", client=service.client)
    assert answer["toast"]["type"] == "success"
    assert await service.services.events.card_updates.drain(5)
    new_url = service.cards.buttons(message_id)["Authorize"]["url"]
    assert new_url != old_url
    grants = service.services.grants
    assert grants is not None
    with pytest.raises(ConfigError, match="already expired"):
        await grants.complete(*_code_and_state(approve(service.fake, old_url, "ou_alice")))
    await grants.complete(*_code_and_state(approve(service.fake, new_url, "ou_alice")))
    assert header(service.cards, message_id)[0] == "green"
    (message,) = [m for m in service.fake.messages if m["msg_type"] == "interactive"]
    assert message["message_id"] == message_id  # updated in place, never a second card


async def test_only_the_cards_user_can_use_its_buttons(service: Service) -> None:
    message_id = await service.request_card()
    answer = await service.cards.click(
        message_id, button="Cancel", operator="ou_mallory", client=service.client
    )
    assert answer["toast"]["type"] == "error"
    assert await service.services.events.card_updates.drain(5)
    assert header(service.cards, message_id)[0] == "blue"  # still pending


async def test_a_badly_signed_callback_is_refused(service: Service) -> None:
    message_id = await service.request_card()
    service.cards.configure(
        WEB_APP,
        callback_url=f"/v1/cards/{WEB_APP}",
        encrypt_key="another-key",
        verification_token=TOKEN,
    )
    with pytest.raises(CardCallbackError) as refused:
        await service.cards.click(message_id, button="Cancel", client=service.client)
    assert refused.value.status == 400  # not decryptable with the app's key
    assert header(service.cards, message_id)[0] == "blue"


def _code_and_state(redirect: str) -> tuple[str, str]:
    query = dict(parse_qsl(urlsplit(redirect).query))
    return query["code"], query["state"]


async def test_the_fakes_control_endpoints_refuse_bad_input(fake: FakeLark) -> None:
    fake.add_app("cli_ctl", "s")
    asgi: Any = fake.app
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        for path, body in (
            ("configure", {"app_id": "cli_unknown"}),
            ("configure", {"app_id": "cli_ctl", "frame_type": "smoke"}),
            ("click", {"message_id": "om_unknown", "value": {"action": "x"}}),
            ("click", {"message_id": "om_unknown"}),  # neither a button nor a value
        ):
            r = await client.post(f"/_fake/cards/{path}", json=body)
            assert r.status_code == 400, (path, body, r.text)
        ok = await client.post("/_fake/cards/configure", json={"app_id": "cli_ctl"})
        assert ok.status_code == 200


async def test_a_new_link_asks_for_the_scope_the_first_one_did(service: Service) -> None:
    grants = service.services.grants
    assert grants is not None
    scope = "offline_access contact:user.base:readonly"
    session = await grants.request_user_authorization("ou_alice", app_id=WEB_APP, scope=scope)
    message_id = session.message_id
    assert service.cards.buttons(message_id)["New link"]["value"]["scope"] == scope
    await service.cards.click(message_id, button="New link", client=service.client)
    assert await service.services.events.card_updates.drain(5)
    url = service.cards.buttons(message_id)["Authorize"]["url"]
    assert dict(parse_qsl(urlsplit(url).query))["scope"] == scope
    assert service.cards.buttons(message_id)["New link"]["value"]["scope"] == scope
