"""Lark's pushed events and card callbacks, as they arrive, and why one is refused.

`parse_event` reads a plaintext (already decrypted) push into a `LarkEvent`, keeping the bytes
exactly as Lark sent them for the subscribers. It knows the three shapes Lark uses:

* schema 2.0: ``{"schema": "2.0", "header": {event_id, event_type, token, app_id, tenant_key,
  create_time}, "event": {...}}`` (every current event, and ``card.action.trigger``);
* schema 1.0: ``{"uuid", "token", "ts", "type": "event_callback", "event": {"type", ...}}``
  (``app_ticket`` still comes this way);
* ``{"challenge", "token", "type": "url_verification"}``, the check of the request URL;

and the old card callback (``card.action.trigger_v1``: ``{open_id, open_message_id, token,
action, ...}``, where ``token`` is a card update token, not the verification token).

    EventRejectedError          a push refused before it reached the use case (HTTP 400)
    ├── EventDecodeError        not JSON, not a Lark envelope, or not decryptable (400)
    ├── EventAuthError          not proven to come from Lark (401)
    │   ├── BadSignatureError   X-Lark-Signature missing or wrong
    │   ├── WrongTokenError     the verification token does not match
    │   └── StaleEventError     X-Lark-Request-Timestamp too old (a replay) or too far ahead
    └── EventsNotConfiguredError  the app has no encrypt key or verification token (403)
"""

from __future__ import annotations

import enum
import re
from typing import Any

import msgspec

from lark_service.domain.errors import LarkServiceError

__all__ = [
    "BadSignatureError",
    "EventAuthError",
    "EventDecodeError",
    "EventInProgressError",
    "EventKind",
    "EventRejectedError",
    "EventsNotConfiguredError",
    "LarkEvent",
    "StaleEventError",
    "WrongTokenError",
    "parse_event",
]

URL_VERIFICATION = "url_verification"
APP_TICKET = "app_ticket"
CARD_ACTION = "card.action.trigger"
CARD_ACTION_V1 = "card.action.trigger_v1"

# Event types become routing keys (``<app_id>.<event_type>``): letters, digits, _ . : -
_EVENT_TYPE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


class EventRejectedError(LarkServiceError):
    """A push was refused; nothing of it was stored or published."""

    status = 400


class EventInProgressError(EventRejectedError):
    """The same event is being handled right now (or its handler died moments ago).

    Answered with an error, not a success, so that Lark delivers it again later: a success
    would lose the event if the first handling does not finish.
    """

    status = 503


class EventDecodeError(EventRejectedError):
    """The body is not JSON, not a Lark envelope, or cannot be decrypted with the app's key."""


class EventAuthError(EventRejectedError):
    """The push is not proven to come from Lark for this app."""

    status = 401


class BadSignatureError(EventAuthError):
    """``X-Lark-Signature`` is missing or does not match the body."""


class WrongTokenError(EventAuthError):
    """The verification token in the push is not the app's."""


class StaleEventError(EventAuthError):
    """``X-Lark-Request-Timestamp`` is missing, too old (a replay) or too far in the future."""


class EventsNotConfiguredError(EventRejectedError):
    """The app has neither an encrypt key nor a verification token: pushes cannot be checked."""

    status = 403


class EventKind(enum.StrEnum):
    """How a push must be answered."""

    URL_VERIFICATION = "url_verification"  # answer {"challenge": ...}
    EVENT = "event"  # dedupe, then app_ticket or publish
    CARD_ACTION = "card_action"  # answer with the registered handler's card or toast


class LarkEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One push from Lark, decrypted and parsed, not yet checked against the app.

    ``raw`` is the JSON exactly as Lark sent it (after decryption): subscribers get these
    bytes. ``event`` is the ``event`` object (the whole body for an old card callback).
    """

    kind: EventKind
    schema: str  # "2.0", "1.0", or "" (url_verification, old card callbacks)
    event_type: str
    event_id: str  # header.event_id (2.0) or uuid (1.0); "" when Lark gives none
    # the verification token the push carries ("" for old card callbacks)
    token: str = ""
    app_id: str = ""  # the app the envelope names ("" when it names none)
    tenant_key: str = ""
    challenge: str = ""
    raw: bytes = b""
    event: dict[str, Any] = msgspec.field(default_factory=dict)

    def __repr__(self) -> str:
        # the token is a secret of the app; the rest identifies the push
        return (
            f"LarkEvent(kind={self.kind.value!r}, event_type={self.event_type!r}, "
            f"event_id={self.event_id!r}, app_id={self.app_id!r})"
        )

    __str__ = __repr__


def parse_event(raw: bytes) -> LarkEvent:
    """Read a plaintext push; `EventDecodeError` when it is not one of Lark's shapes."""
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise EventDecodeError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise EventDecodeError("the body is not a JSON object")
    if body.get("type") == URL_VERIFICATION:
        return LarkEvent(
            kind=EventKind.URL_VERIFICATION,
            schema="",
            event_type=URL_VERIFICATION,
            event_id="",
            token=_text(body, "token"),
            challenge=_text(body, "challenge", required=True),
            raw=raw,
        )
    if body.get("schema") == "2.0":
        return _schema2(body, raw)
    if body.get("type") == "event_callback":
        return _schema1(body, raw)
    if isinstance(body.get("action"), dict) and "open_message_id" in body:
        return LarkEvent(
            kind=EventKind.CARD_ACTION,
            schema="",
            event_type=CARD_ACTION_V1,
            event_id="",
            tenant_key=_text(body, "tenant_key"),
            raw=raw,
            event=body,
        )
    raise EventDecodeError("the body is not a Lark event, callback or url_verification")


def _schema2(body: dict[str, Any], raw: bytes) -> LarkEvent:
    header = body.get("header")
    if not isinstance(header, dict):
        raise EventDecodeError("a schema 2.0 event needs a header object")
    event_type = _event_type(_text(header, "event_type", required=True))
    return LarkEvent(
        kind=EventKind.CARD_ACTION if event_type == CARD_ACTION else EventKind.EVENT,
        schema="2.0",
        event_type=event_type,
        event_id=_event_id(_text(header, "event_id", required=True)),
        token=_text(header, "token"),
        app_id=_text(header, "app_id"),
        tenant_key=_text(header, "tenant_key"),
        raw=raw,
        event=_object(body, "event"),
    )


def _schema1(body: dict[str, Any], raw: bytes) -> LarkEvent:
    event = _object(body, "event")
    return LarkEvent(
        kind=EventKind.EVENT,
        schema="1.0",
        event_type=_event_type(_text(event, "type", required=True)),
        event_id=_event_id(_text(body, "uuid", required=True)),
        token=_text(body, "token"),
        app_id=_text(event, "app_id"),
        tenant_key=_text(event, "tenant_key"),
        raw=raw,
        event=event,
    )


def _text(obj: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str) or (required and not value):
        raise EventDecodeError(f"{key} must be a non-empty string" if required else f"bad {key}")
    if len(value) > 1024:
        raise EventDecodeError(f"{key} is too long")
    return value


def _object(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key, {})
    if not isinstance(value, dict):
        raise EventDecodeError(f"{key} must be an object")
    return value


def _event_id(value: str) -> str:
    # Lark's ids are 32 to 36 characters; the bound keeps the dedup key within its column
    if len(value) > 128:
        raise EventDecodeError("event_id is too long")
    return value


def _event_type(value: str) -> str:
    if not _EVENT_TYPE.fullmatch(value):
        raise EventDecodeError("event_type must be 1-128 letters, digits, '_', '.', ':' or '-'")
    return value
