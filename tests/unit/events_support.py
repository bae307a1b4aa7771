"""Pushes made the way Lark makes them: JSON envelopes, AES-encrypted bodies, signed headers."""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec

from lark_service.adapters.lark_events import encrypt, sign_card_v1, sign_event

ENCRYPT_KEY = "enc-key-0123456789"
TOKEN = "vtoken-0123456789"


def event_v2(
    *,
    app_id: str,
    event_type: str = "im.message.receive_v1",
    event_id: str | None = None,
    token: str = TOKEN,
    event: dict[str, Any] | None = None,
) -> bytes:
    """A schema 2.0 event envelope (an ``im.message.receive_v1`` by default)."""
    body = {
        "schema": "2.0",
        "header": {
            "event_id": event_id or uuid.uuid4().hex,
            "event_type": event_type,
            "create_time": str(int(time.time() * 1000)),
            "token": token,
            "app_id": app_id,
            "tenant_key": "tenant_default",
        },
        "event": event
        if event is not None
        else {
            "sender": {"sender_id": {"open_id": "ou_1"}, "sender_type": "user"},
            "message": {
                "message_id": "om_1",
                "chat_id": "oc_1",
                "chat_type": "p2p",
                "message_type": "text",
                "content": '{"text":"hello \\u4f60\\u597d"}',
            },
        },
    }
    return msgspec.json.encode(body)


def app_ticket_v1(*, app_id: str, ticket: str, token: str = TOKEN) -> bytes:
    """A schema 1.0 ``app_ticket`` push, as Lark still sends it."""
    body = {
        "uuid": uuid.uuid4().hex,
        "token": token,
        "ts": str(time.time()),
        "type": "event_callback",
        "event": {"app_id": app_id, "app_ticket": ticket, "type": "app_ticket"},
    }
    return msgspec.json.encode(body)


def url_verification(challenge: str = "ch-123", token: str = TOKEN) -> bytes:
    return msgspec.json.encode({"challenge": challenge, "token": token, "type": "url_verification"})


def card_action_v2(*, app_id: str, value: dict[str, Any], token: str = TOKEN) -> bytes:
    """A ``card.action.trigger`` callback (schema 2.0)."""
    event = {
        "operator": {"open_id": "ou_1", "tenant_key": "tenant_default"},
        "token": "c-update-token",
        "action": {"value": value, "tag": "button"},
        "context": {"open_message_id": "om_1", "open_chat_id": "oc_1"},
    }
    return event_v2(app_id=app_id, event_type="card.action.trigger", token=token, event=event)


def card_action_v1(value: dict[str, Any]) -> bytes:
    """An old ``card.action.trigger_v1`` callback (``token`` is a card update token)."""
    body = {
        "open_id": "ou_1",
        "user_id": "u1",
        "tenant_key": "tenant_default",
        "open_message_id": "om_1",
        "open_chat_id": "oc_1",
        "token": "c-update-token",
        "action": {"value": value, "tag": "button"},
    }
    return msgspec.json.encode(body)


def encrypted(plaintext: bytes, encrypt_key: str = ENCRYPT_KEY) -> bytes:
    """The body Lark sends for ``plaintext`` when the app has an encrypt key."""
    return msgspec.json.encode({"encrypt": encrypt(encrypt_key, plaintext)})


def signed(
    body: bytes,
    *,
    encrypt_key: str = ENCRYPT_KEY,
    timestamp: float | None = None,
    nonce: str = "nonce-1",
) -> dict[str, str]:
    """The ``X-Lark-*`` headers of ``body`` (timestamp: now unless given)."""
    ts = str(int(time.time() if timestamp is None else timestamp))
    return {
        "X-Lark-Request-Timestamp": ts,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": sign_event(ts, nonce, encrypt_key, body),
    }


def signed_card_v1(
    body: bytes, *, token: str = TOKEN, timestamp: float | None = None, nonce: str = "nonce-2"
) -> dict[str, str]:
    ts = str(int(time.time() if timestamp is None else timestamp))
    return {
        "X-Lark-Request-Timestamp": ts,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": sign_card_v1(ts, nonce, token, body),
    }
