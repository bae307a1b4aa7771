"""Events per second into the bus: Lark's long connection against Lark's webhook, in one run.

Both paths end in the same place: the service's `EventIntake` (dedup in memory, then the
in-process bus), counted by a bus subscriber.

* long connection: the fake Lark (uvicorn in a thread of this process) pushes N events over
  the WebSocket; `LongConnection` decodes each frame, parses, delivers and answers it;
* webhook: a client standing in for Lark POSTs N encrypted, signed pushes to the service's
  ``/v1/events/{app_id}`` (Litestar on uvicorn, loopback) with ``--concurrency`` in flight;
  each is decrypted, its signature checked, then delivered.

Timed from the first push to the N-th publish. Everything shares this process's GIL (the
fake's thread included), so the numbers compare the paths, not the machine's ceiling.
Run: ``python bench/events.py [--events 5000] [--concurrency 64]``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import socket
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import msgspec
import uvicorn

from bench._common import print_table
from lark_service.adapters.lark_events import encrypt, sign_event
from lark_service.adapters.lark_ws import LongConnection, LongConnectionOptions
from lark_service.domain import AppConfig
from lark_service.domain.apps import EventMode
from lark_service.entrypoints.embed import open_pool
from lark_service.entrypoints.http import Services, create_app
from lark_service.entrypoints.http.wiring import open_services
from lark_service.testing import FakeLark, serve_in_thread

APP_ID = "cli_bench_events"
SECRET = "bench-secret-0123456789"
ENCRYPT_KEY = "bench-encrypt-key-0123"
TOKEN = "bench-verification-token"
EVENT_TYPE = "im.message.receive_v1"


def event(event_id: str) -> bytes:
    return msgspec.json.encode(
        {
            "schema": "2.0",
            "header": {
                "event_id": event_id,
                "event_type": EVENT_TYPE,
                "create_time": str(int(time.time() * 1000)),
                "token": TOKEN,
                "app_id": APP_ID,
                "tenant_key": "tenant_default",
            },
            "event": {
                "sender": {"sender_id": {"open_id": "ou_1"}, "sender_type": "user"},
                "message": {
                    "message_id": f"om_{event_id}",
                    "chat_id": "oc_1",
                    "chat_type": "p2p",
                    "message_type": "text",
                    "content": '{"text":"hello"}',
                },
            },
        }
    )


class Counter:
    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.done = asyncio.Event()

    async def __call__(self, payload: bytes) -> None:
        self.count += 1
        if self.count >= self.target:
            self.done.set()


async def long_connection(fake: FakeLark, base_url: str, services: Services, n: int) -> float:
    counter = Counter(n)
    await services.bus.subscribe(f"{APP_ID}.{EVENT_TYPE}", counter)
    conn = LongConnection(
        app_id=APP_ID,
        app_secret=SECRET,
        base_url=base_url,
        deliver=services.events.accept,
        options=LongConnectionOptions(protocol_ping_interval=None),
    )
    task = asyncio.create_task(conn.run())
    await asyncio.wait_for(conn.connected.wait(), 10)
    bodies = [event(f"ws-{uuid.uuid4().hex}") for _ in range(n)]
    started = time.perf_counter()
    for body in bodies:
        fake.push_ws_event(APP_ID, body)
    await asyncio.wait_for(counter.done.wait(), 300)
    elapsed = time.perf_counter() - started
    deadline = time.monotonic() + 10
    while fake.long_connections.unacked(APP_ID) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await conn.stop()
    await task
    unanswered = fake.long_connections.unacked(APP_ID)
    assert unanswered == 0, f"{unanswered} of {n} pushes were not answered"
    return elapsed


def signed(body: bytes) -> tuple[bytes, dict[str, str]]:
    wire = msgspec.json.encode({"encrypt": encrypt(ENCRYPT_KEY, body)})
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    headers = {
        "Content-Type": "application/json",
        "X-Lark-Request-Timestamp": timestamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": sign_event(timestamp, nonce, ENCRYPT_KEY, wire),
    }
    return wire, headers


async def webhook(services: Services, n: int, concurrency: int) -> float:
    counter = Counter(n)
    await services.bus.subscribe(f"{APP_ID}.{EVENT_TYPE}", counter)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(services),
        log_level="error",
        access_log=False,
        lifespan="off",
        http="httptools",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{port}/v1/events/{APP_ID}"
    pushes = [signed(event(f"hook-{uuid.uuid4().hex}")) for _ in range(n)]
    queue: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()
    for push in pushes:
        queue.put_nowait(push)
    failures = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        while not queue.empty():
            body, headers = queue.get_nowait()
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                failures += resp.status != 200

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        await asyncio.wait_for(counter.done.wait(), 300)
        elapsed = time.perf_counter() - started
    server.should_exit = True
    await serving
    assert failures == 0, f"{failures} pushes were refused"
    return elapsed


async def main(n: int, concurrency: int) -> None:
    fake = FakeLark(realtime=True)
    fake.record_requests = False
    fake.add_app(APP_ID, SECRET)
    app = AppConfig(
        app_id=APP_ID,
        app_secret=SECRET,
        encrypt_key=ENCRYPT_KEY,
        verification_token=TOKEN,
        event_mode=EventMode.WEBSOCKET,
    )
    with serve_in_thread(fake) as running:
        async with (
            open_pool(apps=[app], base_url=running.base_url, default_app_id=APP_ID) as pool,
            open_services(pool) as services,
        ):
            ws_time = await long_connection(fake, running.base_url, services, n)
            hook_time = await webhook(services, n, concurrency)
    rows = [
        ("long connection", n, f"{ws_time:.2f}", f"{n / ws_time:,.0f}"),
        (f"webhook (concurrency {concurrency})", n, f"{hook_time:.2f}", f"{n / hook_time:,.0f}"),
    ]
    print_table("Events into the bus", ("path", "events", "seconds", "events/s"), rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.concurrency))
