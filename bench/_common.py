"""Helpers shared by the benchmarks: tables, and CPU per call of several pools compared."""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence

from lark_service.application.clients.messaging import MessagingClient

BATCH = 100  # calls per measured batch
ROUNDS = 9  # batches per client; the median is reported


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print an aligned plain-text table."""
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


async def batch_cpu(client: MessagingClient, app_id: str) -> float:
    """CPU seconds of this thread per call, over one batch of ``get_bot_info``."""
    start = time.thread_time()
    for _ in range(BATCH):
        await client.get_bot_info(app_id=app_id)
    return (time.thread_time() - start) / BATCH


async def median_cpu_per_call(clients: Mapping[str, MessagingClient]) -> dict[str, float]:
    """Median CPU per call of each app's client (warmed up), batches in rotating order so that
    no client always runs first or last."""
    runs: dict[str, list[float]] = {app_id: [] for app_id in clients}
    for app_id, client in clients.items():
        for _ in range(50):  # warm up: token, connections
            await client.get_bot_info(app_id=app_id)
    order = list(clients)
    for i in range(ROUNDS):
        for app_id in order[i % len(order) :] + order[: i % len(order)]:
            runs[app_id].append(await batch_cpu(clients[app_id], app_id))
    return {app_id: statistics.median(r) for app_id, r in runs.items()}
