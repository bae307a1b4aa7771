"""Lark's webhook pushes: AES-256-CBC bodies, signatures, the verification token, replay checks.

Pure functions over ``cryptography``, no HTTP framework: the HTTP entry point hands in the body
and the ``X-Lark-*`` headers and gets a checked `LarkEvent` (or an `EventRejectedError`).
"""

from lark_service.adapters.lark_events.crypto import (
    decrypt,
    encrypt,
    sign_card_v1,
    sign_event,
    signature_matches,
)
from lark_service.adapters.lark_events.webhook import DEFAULT_TOLERANCE, PushHeaders, open_push

__all__ = [
    "DEFAULT_TOLERANCE",
    "PushHeaders",
    "decrypt",
    "encrypt",
    "open_push",
    "sign_card_v1",
    "sign_event",
    "signature_matches",
]
