"""Where the secret key comes from when ``LARK_SERVICE_SECRET_KEY`` is not set.

* PostgreSQL (shared by several hosts): the key must be configured; there is no default.
* Embedded SQLite file ``<db>``: the key lives in ``<db>.key`` next to it, created on first
  open with mode 0600 (owner read/write only). Anyone who can read both files can read the
  secrets, so back up or move them together and keep the directory private.
* SQLite in memory: a fresh key per process (nothing outlives it anyway).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from lark_service.adapters.postgres.crypto import SecretCipher, generate_key
from lark_service.domain.errors import ConfigError

__all__ = [
    "STALE_PENDING_AGE",
    "key_file_for",
    "pending_key_file_for",
    "read_key_file",
    "resolve_cipher",
    "settle_pending_key",
    "sqlite_file",
    "write_key_file",
]


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a file-backed SQLite URL; ``None`` for memory or other dialects."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    db = url.database or ""
    if db in ("", ":memory:") or db.startswith("file:"):
        return None
    return Path(db).expanduser()


def key_file_for(db_file: Path) -> Path:
    return db_file.with_name(db_file.name + ".key")


log = logging.getLogger("lark_service.store")

# A pending key younger than this may belong to a rotation still running: it is kept.
STALE_PENDING_AGE = 3600.0


def pending_key_file_for(db_file: Path) -> Path:
    """Where ``secret-key rotate`` keeps the new key until the database has switched."""
    return db_file.with_name(db_file.name + ".key.new")


def settle_pending_key(db_file: Path, pending_key: str, *, promote: bool) -> None:
    """Finish or clean up a key rotation that stopped between its steps.

    ``promote``: the pending key (and not the key file's) opens the database, so the
    rotation committed and only the file switch is missing; it is done now. The pending
    file itself stays for the rotation that may still be about to rename it; once it
    holds the same key as the key file it is removed (by this or a later open). A pending
    key that does not open the database is stale once it is ``STALE_PENDING_AGE`` old.
    """
    key_file, pending = key_file_for(db_file), pending_key_file_for(db_file)
    if promote:
        write_key_file(key_file, pending_key)
        log.warning("finished an interrupted key rotation: %s now holds the new key", key_file)
        return
    try:
        same = read_key_file(key_file) == pending_key
        age = time.time() - pending.stat().st_mtime
    except (OSError, ConfigError):
        return
    if same or age > STALE_PENDING_AGE:
        pending.unlink(missing_ok=True)


def read_key_file(path: Path) -> str | None:
    """The key stored in ``path``; ``None`` if there is no such file."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read secret key file {path}: {exc.strerror}") from None
    if not text:
        raise ConfigError(f"secret key file {path} is empty")
    return text


def write_key_file(path: Path, key: str) -> None:
    """Atomically write ``key`` to ``path`` with mode 0600 (replacing any old key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (key + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def resolve_cipher(
    database_url: str, secret_key: str | None
) -> tuple[SecretCipher, tuple[Path, str] | None]:
    """The cipher to open ``database_url`` with, and a new key file to write if one is due.

    The key file is written by the caller only once it has checked that the database holds
    no secrets under another key.
    """
    if secret_key:
        return SecretCipher.from_text(secret_key), None
    if make_url(database_url).get_backend_name() != "sqlite":
        raise ConfigError(
            "LARK_SERVICE_SECRET_KEY is required for PostgreSQL "
            "(create one with `lark-service secret-key generate`)"
        )
    db_file = sqlite_file(database_url)
    stored = read_key_file(key_file_for(db_file)) if db_file is not None else None
    if stored is not None:
        return SecretCipher.from_text(stored), None
    key = generate_key()
    pending = (key_file_for(db_file), key) if db_file is not None else None
    return SecretCipher.from_text(key), pending
