"""Load for the shared-limits tests: OS processes sending as the same apps through one Redis,
against one fake Lark that enforces Lark's limits per app and per receiver across all
connections; and a TCP proxy in front of Redis that a test can cut."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lark_service.adapters.lark_http import RetryPolicy
from lark_service.adapters.memory import InMemoryMetrics
from lark_service.application import MessagingClient
from lark_service.domain import AppConfig
from lark_service.entrypoints.embed import open_pool

HOT_CHAT = "oc_shared_hot_chat"
ALLOWED_PER_APP = 50.0  # Lark: 50/s per app for message create


@dataclass
class Plan:
    base_url: str
    rate_limit_url: str
    apps: list[tuple[str, str]]
    seconds: float
    offered_per_app: float  # calls/s this process offers per app
    hot_share: int = 10  # one call in ``hot_share`` goes to the shared chat


@dataclass
class Outcome:
    sent: Counter[str] = field(default_factory=Counter)
    hot: int = 0
    failed: int = 0
    rate_limited: int = 0
    round_trips: int = 0
    fallbacks: int = 0
    fallback_calls: int = 0
    times: list[float] = field(default_factory=list)


async def _send(plan: Plan, index: int, barrier: Any, progress: Any) -> Outcome:
    apps = [AppConfig(app_id=a, app_secret=s, name=a) for a, s in plan.apps]
    metrics = InMemoryMetrics()
    out = Outcome()
    async with open_pool(
        apps=apps,
        base_url=plan.base_url,
        rate_limit_url=plan.rate_limit_url,
        metrics=metrics,
        retry=RetryPolicy(base_delay=0.05, max_delay=2.0),
    ) as pool:
        client = MessagingClient(pool)
        for a, _ in plan.apps:  # tokens first: the run measures sends only
            await client.get_bot_info(app_id=a)
        await asyncio.to_thread(barrier.wait)
        start = time.time()
        end = start + plan.seconds
        tasks: list[asyncio.Task[None]] = []
        n = 0

        async def one(app_id: str, receiver: str, id_type: str) -> None:
            try:
                await client.send_text(receiver, "hi", receive_id_type=id_type, app_id=app_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                out.failed += 1
                return
            now = time.time()
            if now <= end:
                out.sent[app_id] += 1
                out.hot += receiver == HOT_CHAT
                out.times.append(now)
                progress.value += 1

        tick = 0.04
        per_tick = plan.offered_per_app * tick
        owed = 0.0
        while time.time() < end:
            owed += per_tick
            while owed >= 1:
                owed -= 1
                for app_id, _ in plan.apps:
                    n += 1
                    if n % plan.hot_share == 0:
                        coro = one(app_id, HOT_CHAT, "chat_id")
                    else:
                        coro = one(app_id, f"ou_{index}_{n}", "open_id")
                    tasks.append(asyncio.get_running_loop().create_task(coro))
            await asyncio.sleep(tick)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stats = pool.limiter.stats
        out.rate_limited = sum(metrics.rate_limits.values())
        out.round_trips = stats.round_trips
        out.fallbacks = stats.fallbacks
        out.fallback_calls = stats.fallback_calls
    return out


def sender(plan: Plan, index: int, barrier: Any, results: Any, progress: Any) -> None:
    """Entry point of one sending process: puts its `Outcome` on ``results``."""
    results.put((index, asyncio.run(_send(plan, index, barrier, progress))))


def start_senders(
    plan: Plan, processes: int
) -> tuple[list[multiprocessing.process.BaseProcess], Any, Any]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    results = ctx.Queue()
    progress = [ctx.Value("i", 0) for _ in range(processes)]
    procs: list[multiprocessing.process.BaseProcess] = [
        ctx.Process(target=sender, args=(plan, i, barrier, results, progress[i]), daemon=True)
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=60)
    return procs, results, progress


def collect(
    procs: list[multiprocessing.process.BaseProcess], results: Any, expect: int, timeout: float
) -> dict[int, Outcome]:
    found: dict[int, Outcome] = {}
    deadline = time.monotonic() + timeout
    while len(found) < expect:
        index, outcome = results.get(timeout=max(0.1, deadline - time.monotonic()))
        found[index] = outcome
    for p in procs:
        p.join(timeout=10)
    return found


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; `cut` drops every connection and refuses
    new ones (accepted then closed at once) until `restore`."""

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = True
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def cut(self) -> None:
        self._open = False
        with self._lock:
            conns, self._conns = self._conns, set()
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self._open = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()
