"""Replicas as OS processes: ``count`` spawned processes started together, each reporting once.

The target gets the arguments, then a ``Barrier`` (so that the processes start their work at
the same moment) and a ``Queue`` (where each puts its one result).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

JOIN_DEADLINE = 120.0
RESULT_DEADLINE = 5.0


def run_spawned(target: Callable[..., None], *args: object, count: int) -> list[Any]:
    """Run ``target(*args, barrier, results)`` in ``count`` processes; their results."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(count), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results)) for _ in range(count)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(JOIN_DEADLINE)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return [results.get(timeout=RESULT_DEADLINE) for _ in procs]
