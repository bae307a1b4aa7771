"""Issue 8 item 12: how long 1,000 concurrent first sends block the event loop while their
app's first token (a 100 ms round trip) is in flight.

Run by ``bench/token_pool.py`` in a fresh interpreter (``python -m bench.token_burst``
prints one JSON line), against the fake Lark in a process of its own, because both
neighbours of the other rows would be measured instead of us: a fake served from a thread
of this process takes the GIL from the loop whenever it parses a request (a real Lark is
never in our process), and lark-oapi's import leaves ~370k objects behind, so any gen-2
collection that falls into a window costs ~280 ms whatever the code under test does.

Each figure is the median of ``RUNS`` runs (the machine may be shared) of the longest gap
a 1 ms probe saw between the burst and the token's arrival. The baseline is a minimal
client doing the same work before its wait (check the receiver, text and uuid, build and
encode the body) and sharing one in-flight token per app through one ``asyncio.Event``;
the floor is callers that only wait on one event.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import re
import socket
import statistics
import subprocess  # nosec B404 - the bench starts the fake Lark itself
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lark_service.adapters.lark_http import NO_RETRY
from lark_service.application import MessagingClient
from lark_service.application.rate_limit import RateLimiter
from lark_service.domain import AppConfig
from lark_service.entrypoints.embed import open_pool

TOKEN_LATENCY = 0.1  # the 100 ms token round trip of the issue
CALLS = 1000
RUNS = 7
BURST_DEADLINE = 60.0  # seconds for one burst, its sends included
SECRET = "s"  # nosec B105 - the fake's test secret


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_fake(app_ids: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    apps = [arg for app_id in app_ids for arg in ("--app", f"{app_id}:{SECRET}")]
    proc = subprocess.Popen(  # nosec B603 - our own interpreter and module
        [sys.executable, "-m", "lark_service.testing.fake_lark", "--port", str(port), *apps],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            # the sends after the token are not what is measured: no im frequency limits
            httpx.post(f"{base_url}/_fake/im/rate_scale", json={"scale": 0}, timeout=2)
            return proc, base_url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the standalone fake Lark did not start")


async def _control(http: httpx.AsyncClient, path: str, body: dict[str, object]) -> None:
    (await http.post(path, json=body)).raise_for_status()


async def _slow_tokens(http: httpx.AsyncClient) -> None:
    await _control(http, "/_fake/reset", {})
    await _control(http, "/_fake/im/rate_scale", {"scale": 0})
    await _control(
        http,
        "/_fake/faults",
        {
            "kind": "latency",
            "path_prefix": "/open-apis/auth/",
            "latency": TOKEN_LATENCY,
            "count": 10,
        },
    )


async def _token_requests(http: httpx.AsyncClient, app_id: str) -> int:
    stats = (await http.get("/_fake/stats")).json()["data"]
    return int(stats["token_requests"].get(app_id, 0))


async def _wait_watch(stop: asyncio.Event) -> float:
    """The longest time the loop did not run this probe beyond its 1 ms sleep, until
    ``stop``: a gap that ends after ``stop`` was set holds the work done after the token
    arrived (the sends themselves), not the wait."""
    worst = 0.0
    last = time.perf_counter()
    while True:
        await asyncio.sleep(0.001)
        if stop.is_set():
            return worst
        now = time.perf_counter()
        worst = max(worst, now - last - 0.001)
        last = now


async def _burst_block(
    start: Callable[[int], Coroutine[Any, Any, object]], first: Awaitable[str]
) -> float:
    """Start ``first`` then CALLS x ``start(i)`` at once; the longest loop block until the
    token is there. The garbage the previous run left (its sends' replies hold cycles) is
    collected first: otherwise the first young collection of this window frees it, and
    one run's replies are billed to the next run's wait."""
    gc.collect()
    got_token = asyncio.Event()
    watcher = asyncio.create_task(_wait_watch(got_token))
    await asyncio.sleep(0.01)

    async def first_token() -> None:
        try:
            await first
        finally:
            got_token.set()  # a failed fetch must not leave the probe waiting forever

    owner = asyncio.create_task(first_token())
    await asyncio.sleep(0)  # the owner is in flight before the burst
    calls = [asyncio.create_task(start(i)) for i in range(CALLS)]
    async with asyncio.timeout(BURST_DEADLINE):
        stall = await watcher
        await owner
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
    owner.result()  # the first token came: the block was measured around a real wait
    failed = [type(o).__name__ for o in outcomes if isinstance(o, BaseException)]
    if len(failed) > CALLS // 2:  # calls refused up front would not have waited at all
        raise RuntimeError(f"{len(failed)} burst calls failed: {sorted(set(failed))}")
    return stall


class MinimalClient:
    """The baseline: the least a single-flight client must do before its token wait."""

    _RECEIVER = re.compile(r"oc_[A-Za-z0-9_\-]{1,253}")
    _UUID = re.compile(r"[\x21-\x7e]{1,50}")

    def __init__(self, http: httpx.AsyncClient, app_id: str) -> None:
        self._http = http
        self._app_id = app_id
        self._token = ""
        self._ready: asyncio.Event | None = None

    async def _fetch(self, ready: asyncio.Event) -> None:
        reply = await self._http.post(
            "/open-apis/auth/v3/tenant_access_token/internal",
            json={"app_id": self._app_id, "app_secret": SECRET},
        )
        self._token = reply.json()["tenant_access_token"]
        ready.set()

    async def token(self) -> str:
        if not self._token:
            if self._ready is None:
                self._ready = asyncio.Event()
                await self._fetch(self._ready)
            else:
                await self._ready.wait()
        return self._token

    async def send_text(self, chat_id: str, text: str, uuid: str) -> None:
        if not self._RECEIVER.fullmatch(chat_id) or not self._UUID.fullmatch(uuid):
            raise ValueError("bad receiver or uuid")
        if not isinstance(text, str):
            raise ValueError("text must be a str")
        content = json.dumps({"text": text})
        body = json.dumps(
            {"receive_id": chat_id, "msg_type": "text", "content": content, "uuid": uuid}
        ).encode()
        token = await self.token()
        await self._http.post(
            "/open-apis/im/v1/messages",
            params={"receive_id_type": "chat_id"},
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )


async def _trivial_block() -> float:
    ready = asyncio.Event()

    async def token() -> str:
        await asyncio.sleep(TOKEN_LATENCY)
        ready.set()
        return "t"

    async def waiter(_: int) -> None:
        await ready.wait()

    return await _burst_block(waiter, token())


@contextlib.contextmanager
def _gc_setting(name: str) -> Iterator[None]:
    """Observations only (the library never touches GC settings): the cyclic GC off; a
    10x gen-0 threshold (fewer, larger young collections); the heap present before the
    burst frozen (`gc.freeze`, as a pre-forking server does after start-up)."""
    thresholds = gc.get_threshold()
    if name == "off":
        gc.disable()
    elif name == "gen0x10":
        gc.set_threshold(thresholds[0] * 10, *thresholds[1:])
    elif name == "frozen":
        gc.freeze()
    try:
        yield
    finally:
        gc.enable()
        gc.set_threshold(*thresholds)
        gc.unfreeze()


_SEND_SETTINGS = ("normal", "off", "gen0x10", "frozen")


async def measure() -> dict[str, float]:
    per_run = len(_SEND_SETTINGS) + 3
    app_ids = [f"cli_burst{n}" for n in range(RUNS * per_run)]
    proc, base_url = _start_fake(app_ids)
    sends: dict[str, list[float]] = {name: [] for name in _SEND_SETTINGS}
    baseline: list[float] = []
    tokens: list[float] = []
    floor: list[float] = []
    no_gc: list[float] = []
    requests = 0
    try:
        limits = httpx.Limits(max_connections=100)
        async with (
            httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http,
            open_pool(
                apps=[AppConfig(app_id=a, app_secret=SECRET) for a in app_ids],
                base_url=base_url,
                default_app_id=app_ids[0],
                retry=NO_RETRY,
                limiter=RateLimiter({}),  # nor is the client-side shaping of the sends
            ) as pool,
        ):
            client = MessagingClient(pool)
            for run in range(RUNS):
                free = iter(app_ids[per_run * run : per_run * (run + 1)])
                await _slow_tokens(http)
                for setting in _SEND_SETTINGS:
                    send_app = next(free)
                    with _gc_setting(setting):
                        sends[setting].append(
                            await _burst_block(
                                lambda i, a=send_app: client.send_text(  # type: ignore[misc]
                                    "oc_bench", f"m{i}", uuid=f"u{i}", app_id=a
                                ),
                                pool.get_token(pool.resolve(send_app)),
                            )
                        )
                    requests = max(requests, await _token_requests(http, send_app))
                minimal = MinimalClient(http, next(free))
                baseline.append(
                    await _burst_block(
                        lambda i, m=minimal: m.send_text(  # type: ignore[misc]
                            "oc_bench", f"m{i}", f"u{i}"
                        ),
                        minimal.token(),
                    )
                )
                app = pool.resolve(next(free))
                tokens.append(
                    await _burst_block(
                        lambda i, a=app: pool.get_token(a),  # type: ignore[misc]
                        pool.get_token(app),
                    )
                )
                floor.append(await _trivial_block())
                quiet = pool.resolve(next(free))
                with _gc_setting("off"):
                    no_gc.append(
                        await _burst_block(
                            lambda i, a=quiet: pool.get_token(a),  # type: ignore[misc]
                            pool.get_token(quiet),
                        )
                    )
    finally:
        proc.terminate()
        proc.wait(10)
    result = {f"sends_{name}_ms": statistics.median(v) * 1000 for name, v in sends.items()}
    return result | {
        "sends_ms": result["sends_normal_ms"],
        "baseline_ms": statistics.median(baseline) * 1000,
        "tokens_ms": statistics.median(tokens) * 1000,
        "floor_ms": statistics.median(floor) * 1000,
        "no_gc_ms": statistics.median(no_gc) * 1000,
        "requests": requests,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure())))
