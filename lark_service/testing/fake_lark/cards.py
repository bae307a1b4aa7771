"""A person clicking a button of a card the fake holds: Lark's card callback.

`FakeCards` (``cards_of(fake)``) builds the ``card.action.trigger`` callback (schema 2.0,
lark-api-reference.md "Card callbacks") for a stored interactive message: ``header`` with a
new ``event_id``, the app's verification token and tenant key; ``event`` with the
``operator`` (the person who clicked), a card update ``token``, ``action{value, tag}``,
``host`` and ``context{open_message_id, open_chat_id}``. It delivers it the way the app is set
up in Lark's console (`FakeCards.configure`):

* a card callback URL: POSTed there like a webhook push, encrypted (``{"encrypt": ...}``)
  when the app has an encrypt key, with ``X-Lark-Request-Timestamp`` / ``-Nonce`` and
  ``X-Lark-Signature = sha256(timestamp + nonce + encrypt_key + body)``;
* otherwise over the app's long connection (`ws.FakeLongConnections`), as a data frame of
  type ``event`` (how the official SDK receives ``card.action.trigger``; ``card`` can be
  chosen), the answer read from the client's answer frame.

The answer is returned; a ``card`` in it (``{"type": "raw", "data": {...}}``) replaces the
message's card in place, as Lark does. A button is found by its text in the card (any
element tagged ``button``; v1 ``value`` or v2 ``behaviors`` of type ``callback``); a button
that opens a URL does not call back. The operator defaults to the message's receiver when it
was sent to an open_id.

Control endpoints: ``POST /_fake/cards/configure {app_id, callback_url?, encrypt_key?,
verification_token?, frame_type?}``; ``POST /_fake/cards/click {message_id, button? | value?,
operator?}`` → ``{"answer": {...}}``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

from lark_service.adapters.lark_events.crypto import encrypt, sign_event
from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest, control_body
from lark_service.testing.fake_lark.server import FakeLark, HandlerResult

__all__ = ["CardCallbackError", "CardClick", "FakeCards", "cards_of", "register"]

_STATE_KEY = "cards"
FRAME_TYPES = frozenset({"event", "card"})
CALLBACK_BUDGET = 3.0  # seconds Lark waits for the answer to a card callback


class CardCallbackError(Exception):
    """The app did not answer the callback with 200 and JSON (Lark shows the user an error)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"the card callback was answered {status}: {detail[:200]}")
        self.status = status


@dataclass(slots=True)
class _Setup:
    callback_url: str = ""
    encrypt_key: str = field(default="", repr=False)
    verification_token: str = field(default="", repr=False)
    frame_type: str = "event"


@dataclass(frozen=True, slots=True)
class CardClick:
    """One delivered click and the app's answer."""

    app_id: str
    message_id: str
    operator: str
    value: Any
    via: str  # "webhook" or "long_connection"
    answer: dict[str, Any]


class FakeCards:
    """Card callbacks of the fake; ``clicks`` records every delivered one."""

    def __init__(self, fake: FakeLark) -> None:
        self._fake = fake
        self._setups: dict[str, _Setup] = {}
        self.clicks: list[CardClick] = []

    def configure(
        self,
        app_id: str,
        *,
        callback_url: str = "",
        encrypt_key: str = "",
        verification_token: str = "",
        frame_type: str = "event",
    ) -> None:
        """The app's card callback settings: a URL (else the long connection) and the
        event security settings the callback is signed and encrypted with."""
        self._fake.get_app(app_id)
        if frame_type not in FRAME_TYPES:
            raise ValueError(f"frame_type must be one of {sorted(FRAME_TYPES)}")
        self._setups[app_id] = _Setup(callback_url, encrypt_key, verification_token, frame_type)

    def reset(self) -> None:
        self.clicks.clear()

    # what is on a card -----------------------------------------------------------------
    def message(self, message_id: str) -> dict[str, Any]:
        for msg in reversed(self._fake.messages):
            if msg["message_id"] == message_id and not msg.get("deleted"):
                found: dict[str, Any] = msg
                return found
        raise KeyError(f"no live message {message_id!r}")

    def card(self, message_id: str) -> dict[str, Any]:
        """The card a message shows now."""
        msg = self.message(message_id)
        if msg["msg_type"] != "interactive":
            raise ValueError(f"message {message_id} is a {msg['msg_type']}, not a card")
        content = msg["content"]
        card = msgspec.json.decode(content) if isinstance(content, str | bytes) else content
        if not isinstance(card, dict):
            raise ValueError(f"message {message_id} holds no card object")
        return card

    def buttons(self, message_id: str) -> dict[str, dict[str, Any]]:
        """The card's buttons by their text."""
        return {_text(b): b for b in _buttons(self.card(message_id))}

    # a click ---------------------------------------------------------------------------
    def callback(
        self, message_id: str, value: Any, *, operator: str | None = None
    ) -> tuple[str, bytes]:
        """The app and the plaintext ``card.action.trigger`` for a click with ``value``."""
        msg = self.message(message_id)
        app_id = msg["app_id"]
        who = operator or (msg["receive_id"] if msg.get("receive_id_type") == "open_id" else "")
        if not who:
            raise ValueError("operator: say who clicks (the card was not sent to an open_id)")
        tenant_key = msg.get("tenant_key", "")
        body = {
            "schema": "2.0",
            "header": {
                "event_id": uuid.uuid4().hex,
                "token": self._setup(app_id).verification_token,
                "create_time": str(int(self._fake.now() * 1000)),
                "event_type": "card.action.trigger",
                "tenant_key": tenant_key,
                "app_id": app_id,
            },
            "event": {
                "operator": {"tenant_key": tenant_key, "open_id": who},
                "token": "c-" + secrets.token_hex(16),
                "action": {"value": value, "tag": "button"},
                "host": "im_message",
                "context": {"open_message_id": message_id, "open_chat_id": msg["chat_id"]},
            },
        }
        return app_id, msgspec.json.encode(body)

    async def click(
        self,
        message_id: str,
        *,
        button: str | None = None,
        value: Any = None,
        operator: str | None = None,
        client: httpx.AsyncClient | None = None,
        deadline: float = 5.0,
        budget: float = CALLBACK_BUDGET,
    ) -> dict[str, Any]:
        """Click ``button`` (by its text) or send ``value`` as if a button held it; returns
        the app's answer (applied to the card first when it carries one).

        ``client`` posts webhook callbacks (an ASGI test client, say); one is made per call
        otherwise. `CardCallbackError` when the app does not answer 200 with JSON within
        ``budget`` s (Lark's 3 s: a later answer is not applied); `TimeoutError` after
        ``deadline`` s.
        """
        if (button is None) == (value is None):
            raise ValueError("give exactly one of button= or value=")
        if button is not None:
            value = self._button_value(message_id, button)
        app_id, plaintext = self.callback(message_id, value, operator=operator)
        who = msgspec.json.decode(plaintext)["event"]["operator"]["open_id"]
        setup = self._setup(app_id)
        started = time.monotonic()
        async with asyncio.timeout(deadline):
            if setup.callback_url:
                via, answer = "webhook", await self._post(setup, plaintext, client)
            else:
                via, answer = "long_connection", await self._push(app_id, setup, plaintext)
        took = time.monotonic() - started
        if took > budget:
            raise CardCallbackError(200, f"answered after {took:.2f} s, over Lark's {budget:g} s")
        self._apply(message_id, answer)
        self.clicks.append(CardClick(app_id, message_id, who, value, via, answer))
        return answer

    def _setup(self, app_id: str) -> _Setup:
        return self._setups.get(app_id) or _Setup()

    def _button_value(self, message_id: str, text: str) -> Any:
        found = self.buttons(message_id).get(text)
        if found is None:
            have = sorted(self.buttons(message_id))
            raise ValueError(f"the card has no button {text!r} (it has {have})")
        value = _callback_value(found)
        if value is None:
            raise ValueError(f"the button {text!r} opens a link; it does not call back")
        return value

    async def _post(
        self,
        setup: _Setup,
        plaintext: bytes,
        client: httpx.AsyncClient | None,
    ) -> dict[str, Any]:
        body = plaintext
        if setup.encrypt_key:
            body = msgspec.json.encode({"encrypt": encrypt(setup.encrypt_key, plaintext)})
        ts, nonce = str(int(self._fake.now())), secrets.token_hex(8)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Lark-Request-Timestamp": ts,
            "X-Lark-Request-Nonce": nonce,
        }
        if setup.encrypt_key:  # the signature is keyed by the encrypt key: none without one
            headers["X-Lark-Signature"] = sign_event(ts, nonce, setup.encrypt_key, body)
        if client is not None:
            response = await client.post(setup.callback_url, content=body, headers=headers)
        else:
            async with httpx.AsyncClient(timeout=2 * CALLBACK_BUDGET) as own:
                response = await own.post(setup.callback_url, content=body, headers=headers)
        if response.status_code != 200:
            raise CardCallbackError(response.status_code, response.text)
        try:
            answer = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise CardCallbackError(200, "the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise CardCallbackError(200, "the answer is not a JSON object")
        return answer

    async def _push(self, app_id: str, setup: _Setup, plaintext: bytes) -> dict[str, Any]:
        hub = self._fake.long_connections
        frame_id = hub.push_event(app_id, plaintext, type=setup.frame_type)
        while True:  # the caller's deadline bounds this
            for ack in hub.acks(app_id):
                if ack.message_id == frame_id:
                    if ack.code != 200:
                        raise CardCallbackError(ack.code, "answered over the long connection")
                    return ack.data if isinstance(ack.data, dict) else {}
            await asyncio.sleep(0.005)

    def _apply(self, message_id: str, answer: dict[str, Any]) -> None:
        card = answer.get("card")
        if not isinstance(card, dict) or card.get("type", "raw") != "raw":
            return  # a template card would need Lark's card builder
        data = card.get("data")
        if isinstance(data, dict):
            msg = self.message(message_id)
            msg["content"] = msgspec.json.encode(data).decode()
            msg["updated"] = True
            msg["update_time"] = str(int(self._fake.now() * 1000))


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for child in node.values():
            yield from _walk(child)
    elif isinstance(node, list):
        for child in node:
            yield from _walk(child)


def _buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in _walk(card) if n.get("tag") == "button"]


def _text(button: dict[str, Any]) -> str:
    text = button.get("text")
    content = text.get("content") if isinstance(text, dict) else text
    return content if isinstance(content, str) else ""


def _callback_value(button: dict[str, Any]) -> Any:
    if "value" in button:
        return button["value"]
    for behavior in button.get("behaviors") or ():  # card JSON 2.0
        if isinstance(behavior, dict) and behavior.get("type") == "callback":
            return behavior.get("value")
    return None


def cards_of(fake: FakeLark) -> FakeCards:
    """The fake's card callbacks (registered with the built-in areas)."""
    found = fake.state.get(_STATE_KEY)
    if not isinstance(found, FakeCards):
        raise RuntimeError("the cards area is not registered on this fake")
    return found


def register(fake: FakeLark) -> None:
    cards = FakeCards(fake)
    fake.state[_STATE_KEY] = cards
    fake.on_reset(cards.reset)

    @fake.route("POST", "/_fake/cards/configure")
    async def configure(req: FakeRequest) -> HandlerResult:
        body = control_body(req)
        try:
            cards.configure(
                str(body.get("app_id", "")),
                callback_url=str(body.get("callback_url", "")),
                encrypt_key=str(body.get("encrypt_key", "")),
                verification_token=str(body.get("verification_token", "")),
                frame_type=str(body.get("frame_type", "event")),
            )
        except (KeyError, ValueError) as exc:
            raise FakeLarkError(400, 9499, f"Bad Request: {exc}") from None
        return {}

    @fake.route("POST", "/_fake/cards/click")
    async def click(req: FakeRequest) -> HandlerResult:
        body = control_body(req)
        button, operator = body.get("button"), body.get("operator")
        try:
            answer = await cards.click(
                str(body.get("message_id", "")),
                button=button if isinstance(button, str) else None,
                value=body.get("value"),
                operator=operator if isinstance(operator, str) else None,
            )
        except (KeyError, ValueError) as exc:
            raise FakeLarkError(400, 9499, f"Bad Request: {exc}") from None
        except CardCallbackError as exc:
            raise FakeLarkError(502, 9499, str(exc)) from None
        except TimeoutError:
            raise FakeLarkError(504, 9499, "the app did not answer the card callback") from None
        return {"answer": answer}
