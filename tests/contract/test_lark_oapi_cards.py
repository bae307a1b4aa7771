"""The fake's card callback is one the official SDK (lark-oapi) accepts.

The fake "clicks" a button of a card it holds and posts the ``card.action.trigger`` to an
app made of the SDK's own `EventDispatcherHandler`: the SDK decrypts it, checks its
signature and verification token, decodes it into its typed callback model and answers with
its typed response, which the fake returns and applies to the card.
"""

from __future__ import annotations

from typing import Any

import httpx
import lark_oapi as lark
import msgspec
import pytest
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)

from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark.bot import new_record, store_message
from lark_service.testing.fake_lark.cards import CardCallbackError, cards_of

pytestmark = [pytest.mark.contract, pytest.mark.anyio]

APP = "cli_sdk_cards"
ENCRYPT_KEY = "sdk-cards-encrypt-key"
TOKEN = "sdk-cards-token"
CARD = {
    "header": {"title": {"tag": "plain_text", "content": "Deploy?"}, "template": "blue"},
    "elements": [
        {
            "tag": "action",
            "actions": [
                {
                    "tag": "button",
                    "text": {"tag": "plain_text", "content": "Approve"},
                    "value": {"action": "deploy.approve", "build": 42},
                },
            ],
        }
    ],
}


def sdk_app(encrypt_key: str, token: str, seen: list[P2CardActionTrigger]) -> Any:
    def on_card(data: P2CardActionTrigger) -> P2CardActionTriggerResponse:
        seen.append(data)
        done = {"header": {"title": {"tag": "plain_text", "content": "Approved"}}, "elements": []}
        return P2CardActionTriggerResponse(
            {"toast": {"type": "success", "content": "ok"}, "card": {"type": "raw", "data": done}}
        )

    handler = (
        lark.EventDispatcherHandler.builder(encrypt_key, token)
        .register_p2_card_action_trigger(on_card)
        .build()
    )

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = lark.RawRequest()
        request.uri = scope["path"]
        request.body = body
        request.headers = httpx.Headers([(k.decode(), v.decode()) for k, v in scope["headers"]])
        response = handler.do(request)
        await send({"type": "http.response.start", "status": response.status_code, "headers": []})
        await send({"type": "http.response.body", "body": response.content})

    return app


@pytest.mark.parametrize("encrypt_key", [ENCRYPT_KEY, ""])
async def test_the_sdk_decodes_verifies_and_answers_the_fakes_click(encrypt_key: str) -> None:
    fake = FakeLark()
    fake.add_app(APP, "s")
    record = new_record(
        APP, "tenant_a", "ou_bob", "open_id", "oc_p2p", "interactive", msgspec.json.encode(CARD), ""
    )
    message_id = store_message(fake, record)["message_id"]
    cards = cards_of(fake)
    cards.configure(
        APP, callback_url="http://app/cards", encrypt_key=encrypt_key, verification_token=TOKEN
    )
    seen: list[P2CardActionTrigger] = []
    transport = httpx.ASGITransport(app=sdk_app(encrypt_key, TOKEN, seen))
    async with httpx.AsyncClient(transport=transport) as client:
        answer = await cards.click(message_id, button="Approve", client=client)

    (data,) = seen
    assert data.header.event_type == "card.action.trigger" and data.header.app_id == APP
    assert data.header.tenant_key == "tenant_a"
    assert data.event.operator.open_id == "ou_bob"
    assert data.event.action.value == {"action": "deploy.approve", "build": 42}
    assert data.event.action.tag == "button"
    assert data.event.context.open_message_id == message_id
    assert data.event.context.open_chat_id == "oc_p2p"
    assert data.event.token  # a card update token
    assert answer["toast"] == {"type": "success", "content": "ok"}
    assert cards.card(message_id)["header"]["title"]["content"] == "Approved"  # in place


async def test_the_sdk_refuses_a_click_signed_with_another_key() -> None:
    fake = FakeLark()
    fake.add_app(APP, "s")
    record = new_record(
        APP, "tenant_a", "ou_bob", "open_id", "oc_p2p", "interactive", msgspec.json.encode(CARD), ""
    )
    message_id = store_message(fake, record)["message_id"]
    cards = cards_of(fake)
    cards.configure(
        APP, callback_url="http://app/cards", encrypt_key="other", verification_token=TOKEN
    )
    transport = httpx.ASGITransport(app=sdk_app(ENCRYPT_KEY, TOKEN, []))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(CardCallbackError):
            await cards.click(message_id, button="Approve", client=client)
    assert cards.card(message_id)["header"]["title"]["content"] == "Deploy?"
