"""Single-flight across tasks *and* threads: one fetch per key, however many callers wait.

Each thread may run its own event loop, so the in-flight marker is a thread-safe
``concurrent.futures.Future`` and waiters in any loop await it through ``wrap_future``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class _OwnerCancelled(Exception):
    """The fetching task was cancelled; a waiter then takes over the fetch."""


class SingleFlight(Generic[T]):
    """Runs at most one ``fetch`` per key at a time; concurrent callers share its result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[Hashable, concurrent.futures.Future[T]] = {}

    def busy(self, key: Hashable) -> bool:
        return key in self._inflight

    async def run(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        with self._lock:
            future = self._inflight.get(key)
            owner = future is None
            if future is None:
                future = concurrent.futures.Future()
                self._inflight[key] = future
        if not owner:
            try:
                return await asyncio.wrap_future(future)
            except _OwnerCancelled:
                return await self.run(key, fetch)
        try:
            result = await fetch()
        except BaseException as exc:
            # Waiters must not inherit the owner's cancellation as their own.
            shared: BaseException = exc
            if isinstance(exc, asyncio.CancelledError):
                shared = _OwnerCancelled()
            future.set_exception(shared)
            raise
        else:
            future.set_result(result)
            return result
        finally:
            with self._lock:
                self._inflight.pop(key, None)
