"""Send throughput: 5,000 send_text over 20 apps at concurrency 100, fake Lark on loopback.

The fake server runs in its own process pinned to one core, the client on another. In one
run: lark-service, lark-oapi async, lark-oapi sync from 16 threads (its fastest mode), and a
bare aiohttp.ClientSession posting the same requests (the practical ceiling).
Targets: >= 5x lark-oapi's fastest mode and >= 0.7x bare aiohttp.
Run: ``python bench/throughput.py [--sends 5000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import msgspec

from bench._common import print_table

APPS = [(f"cli_tp{i:02d}", f"secret-{i}") for i in range(20)]
CONCURRENCY = 100
CHAT = "oc_bench_chat"


def _pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {core})


def _serve(port: int) -> None:
    _pin(1)
    import uvicorn

    from lark_service.testing.fake_lark import FakeLark
    from lark_service.testing.fake_lark.runner import http_impl

    fake = FakeLark(realtime=True)
    fake.record_requests = False  # type: ignore[attr-defined]
    fake.state["im_rate_scale"] = 1e9  # the bench measures clients, not Lark's limits
    for app_id, secret in APPS:
        fake.add_app(app_id, secret, name=app_id)
    uvicorn.run(
        fake,
        host="127.0.0.1",
        port=port,
        loop="asyncio",
        http=http_impl(fast=True),
        log_level="error",
        access_log=False,
        lifespan="off",
        interface="asgi3",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("fake server did not start")


async def _drive(n: int, send: Callable[[int], Awaitable[object]]) -> None:
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await send(i)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def _measure(fn: Callable[[], None], n: int) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def run_ours(base_url: str, n: int) -> tuple[float, float]:
    from lark_service.application import MessagingClient
    from lark_service.application.rate_limit import RateLimiter
    from lark_service.domain import AppConfig
    from lark_service.entrypoints.embed import open_pool

    apps = [AppConfig(app_id=a, app_secret=s) for a, s in APPS]
    result: tuple[float, float] = (0.0, 0.0)

    async def main() -> None:
        nonlocal result
        # the limiter runs, scaled so it never delays: the bench measures the client path
        async with open_pool(apps=apps, base_url=base_url, limiter=RateLimiter(scale=1e6)) as pool:
            client = MessagingClient(pool)
            await _drive(200, lambda i: client.send_text(CHAT, "warm", app_id=APPS[i % 20][0]))
            cpu, wall = time.process_time(), time.perf_counter()
            await _drive(n, lambda i: client.send_text(CHAT, f"m{i}", app_id=APPS[i % 20][0]))
            result = (time.perf_counter() - wall, time.process_time() - cpu)

    asyncio.run(main())
    return result


def run_aiohttp(base_url: str, n: int) -> tuple[float, float]:
    encode = msgspec.json.Encoder().encode
    result: tuple[float, float] = (0.0, 0.0)

    async def main() -> None:
        nonlocal result
        async with aiohttp.ClientSession(base_url) as session:
            tokens = []
            for app_id, secret in APPS:
                async with session.post(
                    "/open-apis/auth/v3/tenant_access_token/internal",
                    json={"app_id": app_id, "app_secret": secret},
                ) as r:
                    tokens.append((await r.json())["tenant_access_token"])

            async def send(i: int) -> object:
                body = encode(
                    {
                        "receive_id": CHAT,
                        "msg_type": "text",
                        "content": encode({"text": f"m{i}"}).decode(),
                        "uuid": uuid.uuid4().hex,
                    }
                )
                async with session.post(
                    "/open-apis/im/v1/messages",
                    params={"receive_id_type": "chat_id"},
                    data=body,
                    headers={
                        "Authorization": "Bearer " + tokens[i % 20],
                        "Content-Type": "application/json; charset=utf-8",
                    },
                ) as r:
                    return msgspec.json.decode(await r.read())

            await _drive(200, send)
            cpu, wall = time.process_time(), time.perf_counter()
            await _drive(n, send)
            result = (time.perf_counter() - wall, time.process_time() - cpu)

    asyncio.run(main())
    return result


def _oapi_clients(base_url: str) -> list[object]:
    import lark_oapi as lark

    return [
        lark.Client.builder()
        .app_id(a)
        .app_secret(s)
        .domain(base_url)
        .log_level(lark.LogLevel.ERROR)
        .build()
        for a, s in APPS
    ]


def _oapi_request(i: int) -> object:
    from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody

    body = (
        CreateMessageRequestBody.builder()
        .receive_id(CHAT)
        .msg_type("text")
        .content(msgspec.json.encode({"text": f"m{i}"}).decode())
        .uuid(uuid.uuid4().hex)
        .build()
    )
    return CreateMessageRequest.builder().receive_id_type("chat_id").request_body(body).build()


def run_oapi_sync(base_url: str, n: int, threads: int = 16) -> tuple[float, float]:
    clients = _oapi_clients(base_url)
    for i, c in enumerate(clients):  # warm the token cache
        c.im.v1.message.create(_oapi_request(i))  # type: ignore[attr-defined]
    counter = iter(range(n))
    lock = threading.Lock()
    failures = []

    def work() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            resp = clients[i % 20].im.v1.message.create(_oapi_request(i))  # type: ignore[attr-defined]
            if not resp.success():
                failures.append(resp.code)

    def all_threads() -> None:
        ts = [threading.Thread(target=work) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    out = _measure(all_threads, n)
    assert not failures, failures[:5]
    return out


def run_oapi_async(base_url: str, n: int) -> tuple[float, float]:
    clients = _oapi_clients(base_url)
    result: tuple[float, float] = (0.0, 0.0)

    async def main() -> None:
        nonlocal result

        async def send(i: int) -> object:
            return await clients[i % 20].im.v1.message.acreate(_oapi_request(i))  # type: ignore[attr-defined]

        await _drive(20, send)
        cpu, wall = time.process_time(), time.perf_counter()
        await _drive(n, send)
        result = (time.perf_counter() - wall, time.process_time() - cpu)

    asyncio.run(main())
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=5000)
    parser.add_argument(
        "--oapi-async-sends",
        type=int,
        default=300,
        help="lark-oapi async is slow (a new client per call): fewer sends",
    )
    args = parser.parse_args()
    port = _free_port()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        _wait_for(port)
        _pin(0)
        base_url = f"http://127.0.0.1:{port}"
        rows = {
            "bare aiohttp.ClientSession": (args.sends, *run_aiohttp(base_url, args.sends)),
            "lark-service MessagingClient": (args.sends, *run_ours(base_url, args.sends)),
            "lark-oapi sync, 16 threads": (args.sends, *run_oapi_sync(base_url, args.sends)),
            "lark-oapi async": (
                args.oapi_async_sends,
                *run_oapi_async(base_url, args.oapi_async_sends),
            ),
        }
    finally:
        server.terminate()
    rate = {k: n / wall for k, (n, wall, _) in rows.items()}
    oapi_best = max(rate["lark-oapi sync, 16 threads"], rate["lark-oapi async"])
    table = []
    for name, (n, wall, cpu) in rows.items():
        table.append(
            [
                name,
                n,
                f"{wall:.2f}",
                f"{rate[name]:,.0f}",
                f"{rate[name] / oapi_best:.2f}x",
                f"{rate[name] / rate['bare aiohttp.ClientSession']:.2f}x",
                f"{cpu / n * 1e6:,.0f}",
            ]
        )
    print_table(
        f"send_text throughput: 20 apps, concurrency {CONCURRENCY}, fake Lark pinned to core 1, "
        "client to core 0",
        [
            "client",
            "sends",
            "seconds",
            "sends/s",
            "vs lark-oapi best",
            "vs bare aiohttp",
            "CPU us/send",
        ],
        table,
    )
    print("\ntargets: lark-service >= 5x lark-oapi's fastest mode and >= 0.7x bare aiohttp")


if __name__ == "__main__":
    main()
