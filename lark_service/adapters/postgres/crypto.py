"""Authenticated encryption of secrets at rest (AES-256-GCM), with key rotation.

A stored value is URL-safe base64 text of::

    version (1 byte, 0x01) | key id (4 bytes, sha256(key)[:4]) | nonce (12 bytes) | ct + tag

The first key encrypts; every key decrypts, so old keys can stay configured while
``rotate_secret_key`` re-encrypts the rows. A value that no configured key opens raises
``ConfigError``: a wrong key never yields garbage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lark_service.domain.errors import ConfigError

__all__ = ["WRONG_KEY_MESSAGE", "SecretCipher", "decode_key", "generate_key", "parse_keys"]

WRONG_KEY_MESSAGE = "secret key does not decrypt the stored secrets; check LARK_SERVICE_SECRET_KEY"
_VERSION = 1
_KEY_ID_LEN = 4
_NONCE_LEN = 12
_HEADER_LEN = 1 + _KEY_ID_LEN + _NONCE_LEN


def generate_key() -> str:
    """A new random key: URL-safe base64 of 32 bytes."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def decode_key(text: str) -> bytes:
    """Decode one base64 key; the error never echoes the value."""
    raw = text.strip()
    try:
        key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ConfigError(
            "invalid secret key: expected URL-safe base64 of 32 bytes "
            "(create one with `lark-service secret-key generate`)"
        )
    return key


def parse_keys(text: str) -> list[bytes]:
    """``"new,old1,old2"`` → keys; the first encrypts, all decrypt."""
    parts = [p for p in (s.strip() for s in text.split(",")) if p]
    if not parts:
        raise ConfigError("secret key is empty")
    return [decode_key(p) for p in parts]


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:_KEY_ID_LEN]


class SecretCipher:
    """Encrypts with ``keys[0]``; decrypts with whichever key's id the value names."""

    __slots__ = ("_aeads", "_primary")

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ConfigError("at least one secret key is required")
        for key in keys:
            if len(key) != 32:
                raise ConfigError("invalid secret key: expected 32 bytes")
        self._aeads = {_key_id(k): AESGCM(bytes(k)) for k in reversed(keys)}
        self._primary = _key_id(keys[0])

    @classmethod
    def from_text(cls, text: str) -> SecretCipher:
        """Build from ``LARK_SERVICE_SECRET_KEY``'s value (comma-separated for rotation)."""
        return cls(parse_keys(text))

    @property
    def primary_key_id(self) -> str:
        return self._primary.hex()

    def encrypt(self, plaintext: str, *, aad: bytes = b"") -> str:
        """Encrypt under the first key. ``aad`` binds the value to where it is stored."""
        nonce = os.urandom(_NONCE_LEN)
        ct = self._aeads[self._primary].encrypt(nonce, plaintext.encode("utf-8"), aad)
        blob = bytes([_VERSION]) + self._primary + nonce + ct
        return base64.urlsafe_b64encode(blob).decode("ascii")

    def decrypt(self, token: str, *, aad: bytes = b"") -> str:
        """Decrypt a value from ``encrypt``; ``ConfigError`` if no key opens it."""
        try:
            blob = base64.urlsafe_b64decode(token.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise ConfigError("stored secret is not valid ciphertext") from None
        if len(blob) <= _HEADER_LEN or blob[0] != _VERSION:
            raise ConfigError("stored secret is not valid ciphertext")
        aead = self._aeads.get(blob[1 : 1 + _KEY_ID_LEN])
        if aead is None:
            raise ConfigError(WRONG_KEY_MESSAGE)
        try:
            plain = aead.decrypt(blob[1 + _KEY_ID_LEN : _HEADER_LEN], blob[_HEADER_LEN:], aad)
        except InvalidTag:
            raise ConfigError(WRONG_KEY_MESSAGE) from None
        return plain.decode("utf-8")

    def __repr__(self) -> str:
        return f"SecretCipher(keys={len(self._aeads)}, primary_key_id={self.primary_key_id!r})"
