"""The worker: consumes the send queue and hands each job to the sending use case.

``run_worker`` takes its dependencies (the queue, the use case's ``handle_job``, a stop event), so
the CLI's ``worker`` command, tests and embedders wire it the same way. SIGTERM and SIGINT set the
stop event: consuming stops, jobs being handled finish (bounded by the queue's drain timeout),
then the queue closes. Jobs that were prefetched but not started go back to the broker.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from lark_service.domain.errors import ConfigError
from lark_service.domain.jobs import JobOutcome, SendJob
from lark_service.domain.ports.send_queue import DeadHook, DoneCheck, SendQueue

log = logging.getLogger("lark_service.worker")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run_worker(
    queue: SendQueue,
    handle_job: Callable[[SendJob], Awaitable[JobOutcome]],
    stop: asyncio.Event,
    *,
    prefetch: int = 16,
    handle_signals: bool = True,
    on_dead: DeadHook | None = None,
    is_done: DoneCheck | None = None,
) -> None:
    """Consume until ``stop`` is set (or SIGTERM/SIGINT arrives), then shut down gracefully.

    ``prefetch`` bounds how many jobs are handled at once. ``handle_signals=False`` leaves the
    process's signal handlers alone (for embedding, or a worker that is not on the main thread).
    The queue is closed on return, also when consuming could not start. ``on_dead`` and
    ``is_done`` go to `SendQueue.consume` (`SendingService.mark_dead` and ``is_done``).
    """
    if not 1 <= prefetch <= 65_535:
        raise ConfigError("prefetch must be between 1 and 65535")
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if handle_signals:
        for sig in _SIGNALS:
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError, ValueError):
                # Not the main thread, or a platform without loop signal handlers.
                continue
            installed.append(sig)
    try:
        await queue.consume(handle_job, prefetch=prefetch, on_dead=on_dead, is_done=is_done)
        log.info("worker consuming send jobs (prefetch %d)", prefetch)
        await stop.wait()
        log.info("worker stopping: finishing jobs in flight")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await queue.aclose()
        log.info("worker stopped")
