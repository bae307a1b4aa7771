"""`open_push`: from an HTTP push (body and ``X-Lark-*`` headers) to a checked `LarkEvent`.

The checks, in the order Lark's SDKs make them:

1. the app must have an encrypt key or a verification token (else nothing proves a push came
   from Lark: `EventsNotConfiguredError`);
2. ``{"encrypt": ...}`` bodies are decrypted with the app's encrypt key;
3. ``url_verification`` is checked by its token only (Lark does not sign it);
4. events and schema 2.0 card callbacks: ``X-Lark-Signature`` when the app has an encrypt key,
   the verification token when it has one; old card callbacks: their sha1 signature, made with
   the verification token;
5. ``X-Lark-Request-Timestamp`` within ``tolerance`` seconds of ``now`` (a replay of a
   recorded push is refused once it is older); required whenever a signature is checked,
   since the signature is what binds it to the body;
6. an envelope naming another app is refused.

Pure functions: the clock's reading comes in as ``now``.
"""

from __future__ import annotations

import hmac
import math

import msgspec

from lark_service.adapters.lark_events.crypto import (
    decrypt,
    sign_card_v1,
    sign_event,
    signature_matches,
)
from lark_service.domain.apps import AppConfig
from lark_service.domain.events import (
    BadSignatureError,
    EventAuthError,
    EventDecodeError,
    EventKind,
    EventsNotConfiguredError,
    LarkEvent,
    StaleEventError,
    WrongTokenError,
    parse_event,
)

__all__ = ["DEFAULT_TOLERANCE", "PushHeaders", "open_push"]

DEFAULT_TOLERANCE = 300.0  # seconds: Lark's request timestamp may be this far from our clock


class PushHeaders(msgspec.Struct, frozen=True, kw_only=True):
    """The ``X-Lark-Request-Timestamp``, ``X-Lark-Request-Nonce`` and ``X-Lark-Signature``."""

    timestamp: str = ""
    nonce: str = ""
    signature: str = ""


def open_push(
    app: AppConfig,
    body: bytes,
    headers: PushHeaders,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> LarkEvent:
    """Decrypt, parse and authenticate one push to ``app``; raises `EventRejectedError`."""
    if not app.encrypt_key and not app.verification_token:
        raise EventsNotConfiguredError(
            f"app {app.app_id} has neither an encrypt_key nor a verification_token: "
            "pushes to it cannot be authenticated",
            app_id=app.app_id,
        )
    event = parse_event(_plaintext(app, body))
    if event.kind is EventKind.URL_VERIFICATION:
        _check_token(app, event.token)
        return event
    if event.schema == "":  # an old card callback: sha1 with the verification token
        if not app.verification_token:
            raise EventsNotConfiguredError(
                f"app {app.app_id} needs a verification_token for card callbacks",
                app_id=app.app_id,
            )
        _check_time(headers.timestamp, now, tolerance)
        expected = sign_card_v1(headers.timestamp, headers.nonce, app.verification_token, body)
        _check_signature(expected, headers.signature)
    else:
        if app.encrypt_key:
            _check_time(headers.timestamp, now, tolerance)
            expected = sign_event(headers.timestamp, headers.nonce, app.encrypt_key, body)
            _check_signature(expected, headers.signature)
        elif headers.timestamp:
            _check_time(headers.timestamp, now, tolerance)
        _check_token(app, event.token)
    if event.app_id and event.app_id != app.app_id:
        raise EventAuthError("the push names another app", app_id=app.app_id)
    return event


def _plaintext(app: AppConfig, body: bytes) -> bytes:
    try:
        outer = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise EventDecodeError("the body is not JSON", app_id=app.app_id) from None
    if not (isinstance(outer, dict) and "encrypt" in outer):
        return body
    encrypted = outer["encrypt"]
    if not isinstance(encrypted, str):
        raise EventDecodeError("encrypt must be a string", app_id=app.app_id)
    if not app.encrypt_key:
        raise EventDecodeError(
            f"the push is encrypted but app {app.app_id} has no encrypt_key", app_id=app.app_id
        )
    return decrypt(app.encrypt_key, encrypted)


def _check_token(app: AppConfig, token: str) -> None:
    expected = app.verification_token
    if expected and not hmac.compare_digest(expected.encode(), token.encode()):
        raise WrongTokenError("the verification token does not match", app_id=app.app_id)


def _check_signature(expected: str, given: str) -> None:
    if not given:
        raise BadSignatureError("X-Lark-Signature is missing")
    if not signature_matches(expected, given):
        raise BadSignatureError("X-Lark-Signature does not match the body")


def _check_time(timestamp: str, now: float, tolerance: float) -> None:
    if not timestamp:
        raise StaleEventError("X-Lark-Request-Timestamp is missing")
    try:
        sent_at = float(timestamp)
    except ValueError:
        raise StaleEventError("X-Lark-Request-Timestamp is not a number") from None
    if not math.isfinite(sent_at) or abs(now - sent_at) > tolerance:
        raise StaleEventError(
            f"X-Lark-Request-Timestamp is more than {tolerance:g} s from now (a replay?)"
        )
