"""SecretCipher: authenticated, versioned, rotatable; errors never echo keys or secrets."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from lark_service.adapters.postgres.crypto import SecretCipher, decode_key, generate_key, parse_keys
from lark_service.adapters.postgres.keyfile import (
    key_file_for,
    read_key_file,
    sqlite_file,
    write_key_file,
)
from lark_service.domain.errors import ConfigError


def _cipher(*keys: str) -> SecretCipher:
    return SecretCipher([decode_key(k) for k in keys])


class TestSecretCipher:
    def test_round_trip_and_fresh_nonce_each_time(self) -> None:
        c = _cipher(generate_key())
        a, b = c.encrypt("s3cret", aad=b"x"), c.encrypt("s3cret", aad=b"x")
        assert a != b
        assert "s3cret" not in a
        assert c.decrypt(a, aad=b"x") == c.decrypt(b, aad=b"x") == "s3cret"

    def test_format_is_version_key_id_nonce_ciphertext(self) -> None:
        c = _cipher(generate_key())
        blob = base64.urlsafe_b64decode(c.encrypt("v"))
        assert blob[0] == 1
        assert blob[1:5].hex() == c.primary_key_id
        assert len(blob) == 1 + 4 + 12 + len("v") + 16

    def test_wrong_key_is_a_config_error_not_garbage(self) -> None:
        token = _cipher(generate_key()).encrypt("s3cret")
        with pytest.raises(ConfigError, match="LARK_SERVICE_SECRET_KEY"):
            _cipher(generate_key()).decrypt(token)

    def test_tampering_or_other_aad_is_detected(self) -> None:
        c = _cipher(generate_key())
        token = c.encrypt("s3cret", aad=b"apps.app_secret|a")
        with pytest.raises(ConfigError):
            c.decrypt(token, aad=b"apps.app_secret|b")
        blob = bytearray(base64.urlsafe_b64decode(token))
        blob[-1] ^= 1
        with pytest.raises(ConfigError):
            c.decrypt(base64.urlsafe_b64encode(bytes(blob)).decode(), aad=b"apps.app_secret|a")
        with pytest.raises(ConfigError, match="not valid ciphertext"):
            c.decrypt("plain text!")

    def test_first_key_encrypts_every_key_decrypts(self) -> None:
        old, new = generate_key(), generate_key()
        from_old = _cipher(old).encrypt("v")
        both = SecretCipher.from_text(f"{new},{old}")
        assert both.decrypt(from_old) == "v"
        assert _cipher(new).decrypt(both.encrypt("w")) == "w"

    def test_repr_shows_no_key_material(self) -> None:
        key = generate_key()
        text = repr(_cipher(key))
        assert key not in text
        assert "keys=1" in text


class TestKeys:
    def test_generate_key_is_32_random_bytes(self) -> None:
        a, b = generate_key(), generate_key()
        assert a != b
        assert len(decode_key(a)) == 32

    def test_bad_key_error_does_not_echo_the_value(self) -> None:
        for bad in ("not-a-key-at-all", base64.urlsafe_b64encode(b"short").decode()):
            with pytest.raises(ConfigError) as info:
                decode_key(bad)
            assert bad not in str(info.value)

    def test_parse_keys_splits_on_commas(self) -> None:
        a, b = generate_key(), generate_key()
        assert parse_keys(f" {a} , {b} ,") == [decode_key(a), decode_key(b)]
        with pytest.raises(ConfigError):
            parse_keys(" , ")


class TestKeyFile:
    def test_written_with_mode_0600_and_read_back(self, tmp_path: Path) -> None:
        path = key_file_for(tmp_path / "sub" / "lark.db")
        assert path.name == "lark.db.key"
        assert read_key_file(path) is None
        write_key_file(path, "k1")
        write_key_file(path, "k2")
        assert read_key_file(path) == "k2"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert list(path.parent.iterdir()) == [path]

    def test_only_sqlite_files_have_one(self, tmp_path: Path) -> None:
        assert sqlite_file(f"sqlite+aiosqlite:///{tmp_path}/x.db") == tmp_path / "x.db"
        assert sqlite_file("sqlite+aiosqlite://") is None
        assert sqlite_file("sqlite+aiosqlite:///:memory:") is None
        assert sqlite_file("postgresql+asyncpg://u:p@h/db") is None
