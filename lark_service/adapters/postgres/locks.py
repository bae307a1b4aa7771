"""Locks held while one caller refreshes a token, so others wait and re-read the store.

* In-process: one ``anyio.Lock`` per name, shared by every store in the process and dropped
  once nobody holds or waits for it. On SQLite this is the whole story: an embedded SQLite
  file belongs to one host, and processes sharing it are not serialised.
* PostgreSQL: after the in-process lock, a session-level ``pg_advisory_lock`` on a dedicated
  connection, so processes on every host take turns. It is polled with
  ``pg_try_advisory_lock`` until the deadline; a connection whose lock state is uncertain
  (cancelled or failed mid-call) is invalidated, which makes the server release the lock.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lark_service.adapters.postgres.engine import store_error
from lark_service.domain.errors import StoreError

__all__ = ["advisory_lock", "advisory_lock_id", "local_lock"]

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:k)")
_UNLOCK = text("SELECT pg_advisory_unlock(:k)")


def advisory_lock_id(name: str) -> int:
    """A stable signed 64-bit id for ``name``: the first 8 bytes of its sha256."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


@dataclass
class _Entry:
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    users: int = 0


_LOCAL: dict[str, _Entry] = {}


def _timed_out(seconds: float) -> StoreError:
    return StoreError(f"credential store: timed out after {seconds:g} s waiting for a token lock")


@contextlib.asynccontextmanager
async def local_lock(name: str, *, wait: float) -> AsyncIterator[None]:
    """Hold the process-wide lock ``name``; ``StoreError`` after ``wait`` seconds."""
    entry = _LOCAL.setdefault(name, _Entry())
    entry.users += 1
    try:
        try:
            with anyio.fail_after(wait):
                await entry.lock.acquire()
        except TimeoutError:
            raise _timed_out(wait) from None
        try:
            yield
        finally:
            entry.lock.release()
    finally:
        entry.users -= 1
        if entry.users == 0:
            _LOCAL.pop(name, None)


async def _try_lock(conn: AsyncConnection, lock_id: int, deadline: float, wait: float) -> None:
    delay = 0.01
    while True:
        got = (await conn.execute(_TRY_LOCK, {"k": lock_id})).scalar_one()
        await conn.commit()  # hold the session lock, not an idle transaction
        if got:
            return
        if anyio.current_time() + delay > deadline:
            raise _timed_out(wait)
        await anyio.sleep(delay)
        delay = min(delay * 2, 0.2)


@contextlib.asynccontextmanager
async def advisory_lock(engine: AsyncEngine, name: str, *, wait: float) -> AsyncIterator[None]:
    """Hold ``pg_advisory_lock(advisory_lock_id(name))`` on a connection of its own."""
    lock_id = advisory_lock_id(name)
    deadline = anyio.current_time() + wait
    try:
        with anyio.fail_after(wait):  # a busy pool must not stretch the bound
            conn = await engine.connect()
    except TimeoutError:
        raise _timed_out(wait) from None
    except (SQLAlchemyError, OSError) as exc:
        raise store_error("taking the token lock", exc) from None
    clean = False
    try:
        try:
            await _try_lock(conn, lock_id, deadline, wait)
        except StoreError:
            clean = True  # the last try returned false: nothing is held
            raise
        except (SQLAlchemyError, OSError) as exc:
            raise store_error("taking the token lock", exc) from None
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(SQLAlchemyError, OSError):
                await conn.execute(_UNLOCK, {"k": lock_id})
                await conn.commit()
                clean = True
    finally:
        with anyio.CancelScope(shield=True), contextlib.suppress(SQLAlchemyError, OSError):
            if not clean:
                await conn.invalidate()  # closing the session releases its locks
            await conn.close()
