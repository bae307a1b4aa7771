"""Sequential-call latency: one client call at a time against the fake Lark, three ways.

- in process: ``lark_service.testing.fake_pool`` (InProcessLarkTransport, no socket);
- in-thread server: ``serve_in_thread`` (uvicorn in a thread of this process, loopback);
- standalone server: ``python -m lark_service.testing.fake_lark`` in another process.

Each row is the mean and median over ``--calls`` sequential ``get_bot_info`` and
``send_text`` calls after a warm-up (token fetched, connection open).
Target: in process < 1 ms. Run: ``python bench/latency.py [--calls 500]``.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench._common import print_table
from lark_service import AppConfig, CredentialPool, MessagingClient, open_pool
from lark_service.application.rate_limit import RateLimiter
from lark_service.testing import FakeLark, fake_pool, serve_in_thread

APP = ("cli_latency", "secret-latency")


def _fake() -> FakeLark:
    fake = FakeLark(realtime=True)
    fake.record_requests = False
    fake.state["im_rate_scale"] = 0  # measures the path, not Lark's limits
    fake.add_app(*APP)
    return fake


async def _measure(pool: CredentialPool, calls: int) -> list[tuple[str, float, float]]:
    client = MessagingClient(pool)
    await client.get_bot_info()
    rows = []
    named: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("get_bot_info", client.get_bot_info),
        ("send_text", lambda: client.send_text("oc_latency", "hi")),
    ]
    for name, call in named:
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            await call()
            times.append(time.perf_counter() - started)
        rows.append((name, statistics.fmean(times) * 1000, statistics.median(times) * 1000))
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _standalone(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lark_service.testing.fake_lark",
            "--port",
            str(port),
            "--app",
            f"{APP[0]}:{APP[1]}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/_fake/im/rate_scale", json={"scale": 0})
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the standalone fake did not start")


async def main(calls: int) -> None:
    app = AppConfig(app_id=APP[0], app_secret=APP[1])
    no_limits = RateLimiter(limits={})
    results: list[tuple[str, str, str, str]] = []

    def add(where: str, rows: list[tuple[str, float, float]]) -> None:
        results.extend((where, name, f"{mean:.3f}", f"{median:.3f}") for name, mean, median in rows)

    async with fake_pool(_fake(), limiter=no_limits) as pool:
        add("in process", await _measure(pool, calls))

    fake = _fake()
    with serve_in_thread(fake) as running:
        async with open_pool(apps=[app], base_url=running.base_url, limiter=no_limits) as pool:
            add("in-thread server", await _measure(pool, calls))

    port = _free_port()
    proc = _standalone(port)
    try:
        base_url = f"http://127.0.0.1:{port}"
        async with open_pool(apps=[app], base_url=base_url, limiter=no_limits) as pool:
            add("standalone server", await _measure(pool, calls))
    finally:
        proc.terminate()
        proc.wait(10)

    print_table(
        f"Sequential calls against the fake Lark ({calls} each)",
        ["fake", "call", "mean ms", "median ms"],
        results,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    asyncio.run(main(parser.parse_args().calls))
