"""The webhook adapter: Lark's test vector, AES bodies, signatures, tokens and replay checks."""

from __future__ import annotations

import msgspec
import pytest

from lark_service.adapters.lark_events import PushHeaders, decrypt, encrypt, open_push, sign_event
from lark_service.domain import AppConfig
from lark_service.domain.events import (
    BadSignatureError,
    EventAuthError,
    EventDecodeError,
    EventKind,
    EventsNotConfiguredError,
    StaleEventError,
    WrongTokenError,
    parse_event,
)

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

# lark-api-reference.md §7, checked with the SDK's AESCipher
VECTOR_KEY = "test_encrypt_key"
VECTOR_PLAINTEXT = b'{"challenge":"ch-123","token":"vtoken","type":"url_verification"}'
VECTOR_ENCRYPT = (
    "AAECAwQFBgcICQoLDA0OD8LaqYrx1z7HTGcS5WFOdRGxO1Rzh+I89Z2lUiY6xIQIoGJzIsGoRVLHuDxMqLGrfCkgL7U0"
    "hj7evKQuHJHJOvBhfwjSAjOmM4ibmUZ65hIC"
)
VECTOR_SIGNATURE = "c10cae5786d351f9bb02da0f52aacaf5c93377411549d57edc5b0756bd62d78e"
NOW = 1_700_000_000.0

APP = AppConfig(app_id="cli_ev", app_secret="s", encrypt_key=ENCRYPT_KEY, verification_token=TOKEN)
TOKEN_ONLY = AppConfig(app_id="cli_tok", app_secret="s", verification_token=TOKEN)


def headers_of(h: dict[str, str]) -> PushHeaders:
    return PushHeaders(
        timestamp=h["X-Lark-Request-Timestamp"],
        nonce=h["X-Lark-Request-Nonce"],
        signature=h["X-Lark-Signature"],
    )


def test_reference_vector_decrypts_encrypts_and_signs() -> None:
    assert decrypt(VECTOR_KEY, VECTOR_ENCRYPT) == VECTOR_PLAINTEXT
    assert encrypt(VECTOR_KEY, VECTOR_PLAINTEXT, iv=bytes(range(16))) == VECTOR_ENCRYPT
    body = b'{"encrypt":"' + VECTOR_ENCRYPT.encode() + b'"}'
    assert sign_event("1700000000", "nonce123", VECTOR_KEY, body) == VECTOR_SIGNATURE

    app = AppConfig(app_id="cli_v", app_secret="s", encrypt_key=VECTOR_KEY)
    headers = PushHeaders(timestamp="1700000000", nonce="nonce123", signature=VECTOR_SIGNATURE)
    event = open_push(app, body, headers, now=NOW)
    assert event.kind is EventKind.URL_VERIFICATION and event.challenge == "ch-123"
    assert event.raw == VECTOR_PLAINTEXT


def test_encrypted_event_is_opened_with_its_exact_bytes() -> None:
    plaintext = event_v2(app_id="cli_ev", event_id="ev-1")
    body = encrypted(plaintext)
    event = open_push(APP, body, headers_of(signed(body, timestamp=NOW)), now=NOW)
    assert event.kind is EventKind.EVENT and event.schema == "2.0"
    assert (event.event_type, event.event_id, event.app_id) == (
        "im.message.receive_v1",
        "ev-1",
        "cli_ev",
    )
    assert event.raw == plaintext  # what subscribers get: the JSON exactly as Lark sent it
    assert TOKEN not in repr(event) and ENCRYPT_KEY not in repr(event)


def test_schema1_app_ticket_is_parsed() -> None:
    body = encrypted(app_ticket_v1(app_id="cli_ev", ticket="ticket-1"))
    event = open_push(APP, body, headers_of(signed(body, timestamp=NOW)), now=NOW)
    assert (event.schema, event.event_type, event.event["app_ticket"]) == (
        "1.0",
        "app_ticket",
        "ticket-1",
    )
    assert event.event_id


def test_signature_must_match_the_body() -> None:
    body = encrypted(event_v2(app_id="cli_ev"))
    h = headers_of(signed(body, timestamp=NOW))
    with pytest.raises(BadSignatureError):
        open_push(APP, body, msgspec.structs.replace(h, signature="0" * 64), now=NOW)
    with pytest.raises(BadSignatureError):
        open_push(APP, body, msgspec.structs.replace(h, signature=""), now=NOW)
    with pytest.raises(BadSignatureError):  # another nonce: the signature no longer fits
        open_push(APP, body, msgspec.structs.replace(h, nonce="other"), now=NOW)
    other_body = encrypted(event_v2(app_id="cli_ev"))
    with pytest.raises(BadSignatureError):
        open_push(APP, other_body, h, now=NOW)


def test_stale_or_future_or_missing_timestamp_is_refused() -> None:
    body = encrypted(event_v2(app_id="cli_ev"))
    old = headers_of(signed(body, timestamp=NOW - 301))
    with pytest.raises(StaleEventError):
        open_push(APP, body, old, now=NOW)
    ahead = headers_of(signed(body, timestamp=NOW + 301))
    with pytest.raises(StaleEventError):
        open_push(APP, body, ahead, now=NOW)
    with pytest.raises(StaleEventError):
        open_push(APP, body, PushHeaders(nonce="n", signature="x"), now=NOW)
    within = headers_of(signed(body, timestamp=NOW - 299))
    assert open_push(APP, body, within, now=NOW).kind is EventKind.EVENT


def test_verification_token_must_match() -> None:
    body = encrypted(event_v2(app_id="cli_ev", token="not-the-token"))
    with pytest.raises(WrongTokenError):
        open_push(APP, body, headers_of(signed(body, timestamp=NOW)), now=NOW)
    plain = event_v2(app_id="cli_tok", token="not-the-token")
    with pytest.raises(WrongTokenError):
        open_push(TOKEN_ONLY, plain, PushHeaders(), now=NOW)
    with pytest.raises(WrongTokenError):
        open_push(TOKEN_ONLY, url_verification(token="nope"), PushHeaders(), now=NOW)
    ok = open_push(TOKEN_ONLY, event_v2(app_id="cli_tok"), PushHeaders(), now=NOW)
    assert ok.event_type == "im.message.receive_v1"


def test_url_verification_needs_no_signature() -> None:
    plain = open_push(TOKEN_ONLY, url_verification("c-1"), PushHeaders(), now=NOW)
    assert plain.challenge == "c-1"
    body = encrypted(url_verification("c-2"))
    assert open_push(APP, body, PushHeaders(), now=NOW).challenge == "c-2"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"hello": "world"}',
        b'{"encrypt": 5}',
        b'{"encrypt": "%%%not base64"}',
        b'{"encrypt": "AAECAwQF"}',  # too short for an IV and a block
        b'{"schema": "2.0", "header": {"event_type": "x"}}',  # no event_id
        b'{"schema": "2.0", "header": {"event_id": "e", "event_type": "a b"}}',
        b'{"type": "url_verification", "token": "t"}',  # no challenge
    ],
)
def test_garbage_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(EventDecodeError):
        open_push(APP, body, headers_of(signed(body, timestamp=NOW)), now=NOW)


def test_wrong_encrypt_key_cannot_decrypt() -> None:
    body = encrypted(event_v2(app_id="cli_ev"), encrypt_key="another-key")
    with pytest.raises(EventDecodeError):
        open_push(APP, body, headers_of(signed(body, timestamp=NOW)), now=NOW)
    # an app without an encrypt key cannot read an encrypted push either
    with pytest.raises(EventDecodeError):
        open_push(TOKEN_ONLY, body, PushHeaders(), now=NOW)


def test_app_without_keys_cannot_receive_pushes() -> None:
    bare = AppConfig(app_id="cli_bare", app_secret="s")
    with pytest.raises(EventsNotConfiguredError):
        open_push(bare, url_verification(), PushHeaders(), now=NOW)


def test_push_naming_another_app_is_refused() -> None:
    body = encrypted(event_v2(app_id="cli_other"))
    with pytest.raises(EventAuthError):
        open_push(APP, body, headers_of(signed(body, timestamp=NOW)), now=NOW)


def test_card_callbacks_v2_and_v1() -> None:
    body = encrypted(card_action_v2(app_id="cli_ev", value={"k": "v"}))
    event = open_push(APP, body, headers_of(signed(body, timestamp=NOW)), now=NOW)
    assert event.kind is EventKind.CARD_ACTION and event.event["action"]["value"] == {"k": "v"}

    old = card_action_v1({"k": "old"})
    event = open_push(APP, old, headers_of(signed_card_v1(old, timestamp=NOW)), now=NOW)
    assert event.kind is EventKind.CARD_ACTION and event.event_type == "card.action.trigger_v1"
    with pytest.raises(BadSignatureError):  # signed with the wrong verification token
        open_push(APP, old, headers_of(signed_card_v1(old, token="x", timestamp=NOW)), now=NOW)
    with pytest.raises(EventsNotConfiguredError):  # sha1 needs the verification token
        only_key = AppConfig(app_id="cli_k", app_secret="s", encrypt_key=ENCRYPT_KEY)
        open_push(only_key, old, headers_of(signed_card_v1(old, timestamp=NOW)), now=NOW)


def test_parse_keeps_unknown_fields_and_bytes() -> None:
    raw = b'{"schema":"2.0","header":{"event_id":"e1","event_type":"x.y_v1","extra":1},"z":[1]}'
    event = parse_event(raw)
    assert event.raw == raw and event.event == {} and event.token == ""
