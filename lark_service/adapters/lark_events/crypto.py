"""The cryptography of Lark's pushes: AES-256-CBC bodies and the request signatures.

Lark encrypts a push as ``{"encrypt": base64(iv + AES-256-CBC(sha256(encrypt_key), iv,
PKCS7(json)))}`` and signs it with ``X-Lark-Signature = hex(sha256(timestamp + nonce +
encrypt_key + body))``; old card callbacks are signed with ``sha1(timestamp + nonce +
verification_token + body)`` instead. `encrypt` and the ``sign_*`` functions do what Lark does,
so tests (and the fake server) can make pushes as Lark makes them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lark_service.domain.events import EventDecodeError

__all__ = ["decrypt", "encrypt", "sign_card_v1", "sign_event", "signature_matches"]

_BLOCK = 16


def _key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode("utf-8")).digest()


def decrypt(encrypt_key: str, encrypted: str) -> bytes:
    """The plaintext of an ``encrypt`` field; `EventDecodeError` if it is not one of this key."""
    try:
        data = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise EventDecodeError("encrypt is not base64") from None
    if len(data) < 2 * _BLOCK or len(data) % _BLOCK:
        raise EventDecodeError("encrypt is not an AES-CBC message")
    decryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(data[:_BLOCK])).decryptor()
    padded = decryptor.update(data[_BLOCK:]) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        # a wrong key shows as bad padding (or, rarely, as garbage the JSON parser refuses)
        raise EventDecodeError("encrypt cannot be decrypted with the app's encrypt_key") from None


def encrypt(encrypt_key: str, plaintext: bytes, *, iv: bytes | None = None) -> str:
    """``plaintext`` encrypted as Lark encrypts a push (a random IV unless one is given)."""
    iv = os.urandom(_BLOCK) if iv is None else iv
    if len(iv) != _BLOCK:
        raise ValueError("iv must be 16 bytes")
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def sign_event(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """``X-Lark-Signature`` of an event push (and of a schema 2.0 card callback)."""
    prefix = (timestamp + nonce + encrypt_key).encode("utf-8")
    return hashlib.sha256(prefix + body).hexdigest()


def sign_card_v1(timestamp: str, nonce: str, verification_token: str, body: bytes) -> str:
    """``X-Lark-Signature`` of an old card callback (``card.action.trigger_v1``)."""
    prefix = (timestamp + nonce + verification_token).encode("utf-8")
    # Lark chose sha1 for this signature; it cannot be changed on our side.
    return hashlib.sha1(prefix + body, usedforsecurity=False).hexdigest()


def signature_matches(expected: str, given: str) -> bool:
    """Constant-time comparison of two hex signatures (case-insensitive)."""
    return hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("utf-8"))
