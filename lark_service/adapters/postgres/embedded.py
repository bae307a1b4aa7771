"""The embedded SQLite file: where it is, and its first start made safe for processes
starting together.

Two processes (``serve`` and ``worker``, say) started at once on a fresh data dir would both
run the migration ("database is locked") and both create a secret key file, each then
encrypting with its own key. `open_embedded_database` makes them take turns
(`first_start_lock`: an exclusive ``flock`` on ``<db>.lock`` held while one migrates and
opens the file); the other then finds the schema current and reads the key file the first
wrote. POSIX only, as is the container.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

from lark_service.adapters.postgres.database import SqlDatabase
from lark_service.adapters.postgres.migrations import upgrade_async
from lark_service.adapters.postgres.schema import DEFAULT_PREFIX
from lark_service.domain.errors import StoreError

__all__ = [
    "DEFAULT_LOCK_WAIT",
    "embedded_database_file",
    "embedded_database_url",
    "first_start_lock",
    "open_embedded_database",
]

DEFAULT_LOCK_WAIT = 60.0  # a migration of the embedded file takes well under a second
_POLL = 0.05


@contextlib.asynccontextmanager
async def first_start_lock(
    db_file: Path, *, within: float = DEFAULT_LOCK_WAIT
) -> AsyncIterator[None]:
    """Hold ``<db_file>.lock`` exclusively; `StoreError` if another process keeps it ``within`` s.

    The kernel drops the lock when its holder dies, so a killed process never blocks the
    next start.
    """
    lock_file = db_file.with_name(db_file.name + ".lock")
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if loop.time() >= deadline:
                    raise StoreError(
                        f"another lark-service process has held {lock_file} for {within:g} s "
                        "while setting up the embedded database"
                    ) from None
                await asyncio.sleep(_POLL)  # no blocking flock: it would hold the loop
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def embedded_database_file(data_dir: Path) -> Path:
    """The embedded SQLite file of ``data_dir``."""
    return data_dir / "lark-service.db"


def embedded_database_url(data_dir: Path) -> str:
    """The embedded SQLite database in ``data_dir`` (created, mode 0700, if missing).

    Its secret key, unless one is configured, is kept in ``lark-service.db.key`` beside it
    with mode 0600.
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{embedded_database_file(data_dir).resolve()}"


async def open_embedded_database(
    data_dir: Path, *, secret_key: str | None, table_prefix: str = DEFAULT_PREFIX
) -> SqlDatabase:
    """The embedded database of ``data_dir``, migrated on the fly and opened, one process at a
    time (the first one writes the key file the others read)."""
    url = embedded_database_url(data_dir)
    async with first_start_lock(embedded_database_file(data_dir)):
        await upgrade_async(url, table_prefix=table_prefix)
        return await SqlDatabase.open(url, secret_key=secret_key, table_prefix=table_prefix)
