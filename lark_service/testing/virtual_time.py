"""An asyncio event loop on virtual time: sleeps end at once, in the order they would.

When every task waits only on a timer (``asyncio.sleep``, a rate limiter's delay, a retry's
backoff, a timeout), `VirtualTimeLoop` moves its clock to the next timer instead of waiting.
``loop.time()`` is the real monotonic clock plus the time jumped so far, so code that reads
the loop's clock sees the waits as having happened; `loop_clock` gives that clock to a
component that takes one (e.g. ``RateLimiter(clock=loop_clock())``).

The loop waits for real while a thread started through ``run_in_executor`` /
``asyncio.to_thread`` is busy or a socket is registered with it (a real server's reply takes
real time), so tests that need a socket still work, at real speed.

With the anyio pytest plugin::

    @pytest.fixture(scope="session")
    def anyio_backend():
        return "asyncio", {"loop_factory": VirtualTimeLoop}
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import selectors
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["VirtualTimeLoop", "loop_clock"]

_T = TypeVar("_T")


class _JumpingSelector(selectors.DefaultSelector):
    """Returns at once instead of blocking when only timers are pending."""

    owner: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        loop = self.owner
        # the loop's own wake-up pipe is always registered: more means a real socket
        if timeout is None or loop is None or loop.busy_threads or len(self.get_map()) > 1:
            return list(super().select(timeout))
        loop.jumped += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock jumps over idle waits."""

    def __init__(self) -> None:
        selector = _JumpingSelector()
        super().__init__(selector)
        self.jumped = 0.0
        self.busy_threads = 0
        selector.owner = self

    def time(self) -> float:
        return super().time() + self.jumped

    def run_in_executor(  # type: ignore[override]
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[..., _T],
        *args: Any,
    ) -> asyncio.Future[_T]:
        future = super().run_in_executor(executor, func, *args)
        self.busy_threads += 1
        future.add_done_callback(self._thread_done)
        return future

    def _thread_done(self, _: object) -> None:
        self.busy_threads -= 1


def loop_clock() -> Callable[[], float]:
    """The running loop's clock (virtual under `VirtualTimeLoop`), for components that take
    a ``clock`` callable."""
    return asyncio.get_running_loop().time
