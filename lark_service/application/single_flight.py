"""Single-flight across tasks *and* threads: one fetch per key, however many callers wait.

The outcome of a fetch is a thread-safe ``concurrent.futures.Future``, so callers in any
thread (each with its own event loop) share it. Waiting is per loop: the first waiter on a
loop creates one ``asyncio.Event`` for that loop and every later waiter there waits on it.
When the fetch ends, the owner's loop has its event set directly and each other loop gets
one ``call_soon_threadsafe``, so 1,000 waiters cost one wake-up per loop instead of one
cross-thread callback (and self-pipe write) each.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class _OwnerCancelled(Exception):
    """The fetching task was cancelled; a waiter then takes over the fetch."""


class _Flight(Generic[T]):
    __slots__ = ("gates", "outcome")

    def __init__(self) -> None:
        self.outcome: concurrent.futures.Future[T] = concurrent.futures.Future()
        self.gates: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}


class SingleFlight(Generic[T]):
    """Runs at most one ``fetch`` per key at a time; concurrent callers share its result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[Hashable, _Flight[T]] = {}

    def busy(self, key: Hashable) -> bool:
        return key in self._inflight

    async def run(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        with self._lock:
            flight = self._inflight.get(key)
            if flight is None:
                flight = self._inflight[key] = _Flight()
                gate = None
            elif (gate := flight.gates.get(loop)) is None:
                gate = flight.gates[loop] = asyncio.Event()
        if gate is not None:
            # The fetch's own deadlines (transport, store) bound this wait.
            await gate.wait()
            try:
                return flight.outcome.result(timeout=0)
            except _OwnerCancelled:
                return await self.run(key, fetch)
        return await self._own(key, flight, loop, fetch)

    async def _own(
        self,
        key: Hashable,
        flight: _Flight[T],
        loop: asyncio.AbstractEventLoop,
        fetch: Callable[[], Awaitable[T]],
    ) -> T:
        try:
            result = await fetch()
        except BaseException as exc:
            # Waiters must not inherit the owner's cancellation as their own.
            shared: BaseException = exc
            if isinstance(exc, asyncio.CancelledError):
                shared = _OwnerCancelled()
            flight.outcome.set_exception(shared)
            raise
        else:
            flight.outcome.set_result(result)
            return result
        finally:
            with self._lock:
                self._inflight.pop(key, None)
                gates = list(flight.gates.items())  # no gate is added once popped
            for gate_loop, gate in gates:
                if gate_loop is loop:
                    gate.set()
                else:
                    # A loop closed meanwhile has no waiter left to wake.
                    with contextlib.suppress(RuntimeError):
                        gate_loop.call_soon_threadsafe(gate.set)
