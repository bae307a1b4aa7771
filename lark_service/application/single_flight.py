"""Single-flight across tasks *and* threads: one fetch per key, however many callers wait.

The outcome of a fetch is a thread-safe ``concurrent.futures.Future``, so callers in any
thread (each with its own event loop) share it. Waiting is per loop: the waiters of one loop
share one gate, a list of bare loop futures. When the fetch ends, the owner's loop has its
gate opened directly and each other loop gets one ``call_soon_threadsafe``, so 1,000 waiters
cost one wake-up per loop instead of one cross-thread callback (and self-pipe write) each.

A waiter costs one ``loop.create_future()`` and a list append, and `SingleFlight.join` hands
that future itself to a caller that needs no coroutine around it: 1,000 callers arriving in
one loop iteration must not stall it (issue 8 item 12). The future carries the fetch's
result, so a woken waiter reads nothing else. Each waiter keeps its own future because
a task's cancellation cancels the future it awaits, and a shared one would take every other
waiter down with it. A cancelled waiter's future stays in the gate (opening skips it), so
neither waiting nor cancelling scans the others (``asyncio.Event`` removes each woken
waiter from a deque: quadratic in the number of waiters).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class FlightAbandoned(Exception):
    """The fetching task was cancelled; a waiter then takes over the fetch."""


_Gate = list["asyncio.Future[Any]"]


class _Flight(Generic[T]):
    __slots__ = ("gates", "outcome")

    def __init__(self) -> None:
        self.outcome: concurrent.futures.Future[T] = concurrent.futures.Future()
        self.gates: dict[asyncio.AbstractEventLoop, _Gate] = {}


def _wait_in(flight: _Flight[T], loop: asyncio.AbstractEventLoop) -> asyncio.Future[T]:
    """A new waiter of ``flight`` on ``loop`` (the caller holds the lock)."""
    waiter: asyncio.Future[T] = loop.create_future()
    gate = flight.gates.get(loop)
    if gate is None:
        flight.gates[loop] = [waiter]
    else:
        gate.append(waiter)
    return waiter


def _open(gate: _Gate, outcome: concurrent.futures.Future[Any]) -> None:
    """Hand ``outcome`` to every waiter of ``gate`` still waiting."""
    error = outcome.exception(timeout=0)
    for waiter in gate:
        if waiter.done():  # a cancelled waiter left its future here
            continue
        if error is None:
            waiter.set_result(outcome.result(timeout=0))
        else:
            waiter.set_exception(error)


class SingleFlight(Generic[T]):
    """Runs at most one ``fetch`` per key at a time; concurrent callers share its result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[Hashable, _Flight[T]] = {}

    def busy(self, key: Hashable) -> bool:
        return key in self._inflight

    def join(self, key: Hashable) -> asyncio.Future[T] | None:
        """A future of the fetch of ``key`` in flight, or ``None`` when none is (then
        `run` starts one). The future raises `FlightAbandoned` if the fetching task was
        cancelled: call `run` to take the fetch over. A caller that awaits this instead of
        `run` costs one future, not a coroutine as well (issue 8 item 12)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            flight = self._inflight.get(key)
            if flight is None:
                return None
            return _wait_in(flight, loop)

    async def run(self, key: Hashable, fetch: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``fetch(*args)``'s result, fetched once for all callers of ``key`` meanwhile."""
        loop = asyncio.get_running_loop()
        with self._lock:
            flight = self._inflight.get(key)
            if flight is None:
                flight = self._inflight[key] = _Flight()
                waiter = None
            else:
                waiter = _wait_in(flight, loop)
        if waiter is not None:
            # The fetch's own deadlines (transport, store) bound this wait.
            try:
                return await waiter
            except FlightAbandoned:
                return await self.run(key, fetch, *args)
        return await self._own(key, flight, loop, fetch, args)

    async def _own(
        self,
        key: Hashable,
        flight: _Flight[T],
        loop: asyncio.AbstractEventLoop,
        fetch: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
    ) -> T:
        try:
            result = await fetch(*args)
        except BaseException as exc:
            # Waiters must not inherit the owner's cancellation as their own.
            shared: BaseException = exc
            if isinstance(exc, asyncio.CancelledError):
                shared = FlightAbandoned()
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
                    _open(gate, flight.outcome)
                else:
                    # A loop closed meanwhile has no waiter left to wake.
                    with contextlib.suppress(RuntimeError):
                        gate_loop.call_soon_threadsafe(_open, gate, flight.outcome)
