"""`LeasedConnection`: an app's long connection, open in exactly one replica at a time.

Every replica runs one per app; each tries to take the lease ``long_connection:<app_id>``
(`LeaseStore`, in PostgreSQL across replicas) every ``renew_every`` seconds. The holder
dials and renews the lease every ``renew_every`` (a third of ``ttl`` by default). A holder
that cannot renew (the store is down, another replica took an expired lease) closes its
connection before its lease can have expired (fencing: one renewal interval early), so two
replicas never both hold the socket, except across that clock-skew-free margin. A holder
that dies without releasing (SIGKILL) is replaced once the lease expires: within ``ttl``
plus one ``renew_every``. `stop` closes gracefully and releases the lease at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable

from lark_service.adapters.lark_ws.client import LongConnection
from lark_service.domain.errors import StoreError
from lark_service.domain.ports.leases import LeaseStore

__all__ = ["DEFAULT_LEASE_TTL", "LeasedConnection", "default_holder", "lease_name"]

log = logging.getLogger("lark_service.long_connection")

DEFAULT_LEASE_TTL = 30.0


def lease_name(app_id: str) -> str:
    return f"long_connection:{app_id}"


def default_holder() -> str:
    """This process, unique across hosts and restarts: ``host:pid:random``."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(4)}"


class LeasedConnection:
    """Runs ``factory()``'s `LongConnection` while this replica holds the app's lease."""

    def __init__(
        self,
        *,
        app_id: str,
        factory: Callable[[], LongConnection],
        leases: LeaseStore,
        holder: str | None = None,
        ttl: float = DEFAULT_LEASE_TTL,
        renew_every: float | None = None,
    ) -> None:
        if ttl <= 0 or (renew_every is not None and not 0 < renew_every < ttl):
            raise ValueError("need ttl > 0 and 0 < renew_every < ttl")
        self.app_id = app_id
        self.holder = holder or default_holder()
        self.connection: LongConnection | None = None  # the current tenure's
        self.tenures = 0  # how many times this replica took the lease
        self._factory = factory
        self._leases = leases
        self._ttl = ttl
        self._renew_every = renew_every if renew_every is not None else ttl / 3
        self._name = lease_name(app_id)
        # one run per instance: stop() before run() makes run() return at once
        self._stopping = asyncio.Event()
        self._running = False
        self._done = asyncio.Event()

    def __repr__(self) -> str:
        return f"LeasedConnection(app_id={self.app_id!r}, holder={self.holder!r})"

    @property
    def holding(self) -> bool:
        return self.connection is not None

    async def run(self) -> None:
        """Take the lease when free and serve; until `stop` (or Lark refuses the app)."""
        if self._running:
            raise RuntimeError(f"{self!r} is already running")
        self._running = True
        loop = asyncio.get_running_loop()
        try:
            while not self._stopping.is_set():
                started = loop.time()
                if await self._acquire():
                    await self._hold(valid_until=started + self._ttl)
                else:
                    await self._pause(self._renew_every)
        finally:
            self._running = False
            self._done.set()

    async def stop(self) -> None:
        """Close the connection gracefully, release the lease; returns once `run` ended."""
        self._stopping.set()
        if self._running:
            await self._done.wait()

    async def _acquire(self) -> bool:
        try:
            return await self._leases.acquire_lease(self._name, self.holder, ttl=self._ttl)
        except StoreError as exc:
            log.warning("long connection of %s: lease store failed: %s", self.app_id, exc)
            return False

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    async def _hold(self, *, valid_until: float) -> None:
        loop = asyncio.get_running_loop()
        conn = self.connection = self._factory()
        self.tenures += 1
        log.info("long connection of %s: lease taken by %s", self.app_id, self.holder)
        task = asyncio.create_task(conn.run())
        stopping = asyncio.create_task(self._stopping.wait())
        release = True
        try:
            while True:
                await asyncio.wait(
                    {task, stopping}, timeout=self._renew_every, return_when=asyncio.FIRST_COMPLETED
                )
                if self._stopping.is_set() or task.done():
                    break
                started = loop.time()
                if await self._acquire():
                    valid_until = started + self._ttl
                elif loop.time() + self._renew_every >= valid_until:
                    # lost, or unknown for too long: close before another replica may dial
                    log.warning("long connection of %s: lease lost; closing", self.app_id)
                    release = False
                    break
            # the lease outlives the closing: the next holder cannot overlap this socket
            await conn.stop(grace=max(0.0, valid_until - loop.time() - 0.05 * self._ttl))
            await task  # raises what ended the connection (AuthError: Lark refuses the app)
        except asyncio.CancelledError:
            release = False  # like a crash: the lease expires on its own
            raise
        finally:
            stopping.cancel()
            self.connection = None
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if release:
                with contextlib.suppress(StoreError):
                    await self._leases.release_lease(self._name, self.holder)
