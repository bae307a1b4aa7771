"""The service against the library, measured in one run against the same fake Lark server.

    python bench/service.py [--jobs N] [--concurrency C] [--apps A] [--repeat R]

The fake Lark server runs in a process of its own (this file, ``fake`` mode; Lark's rate limits
off at the fake, the client still shapes to them: the sends are spread over ``--apps`` apps and
1,000 chats so that shaping does not cap the rates). Then, on asyncio's loop and on uvloop:

* in-process: ``MessagingClient.send_text`` from this process, ``C`` at a time: sends/s, and
  this process's CPU per send;
* ``lark-service serve`` (a child process): ``POST /v1/messages`` (sync, 200) from this process,
  ``C`` at a time: requests/s, and the *server's* CPU per request (from /proc);
* ``lark-service worker`` (a child process) on RabbitMQ: this process publishes ``N`` jobs with
  publisher confirms while the worker consumes, sends and acks (and records each job in its
  embedded SQLite store): jobs/s from the first publish to the last message at the fake.

With ``--repeat R`` the in-process and serve measures run ``R`` rounds of ``N`` each (the
same pool, the same server) and report the median: on a shared machine one round's CPU
figure can be off by a fifth.

Targets (issue 9): server CPU per POST <= 2x CPU per in-process send_text; RabbitMQ jobs/s >=
0.5x in-process sends/s. Needs RabbitMQ (``LARK_SERVICE_BENCH_AMQP_URL``, default local guest).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import signal
import socket
import statistics
import subprocess  # nosec B404 - the bench starts lark-service itself
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp
import httpx

from bench._common import print_table

AMQP_URL = os.environ.get("LARK_SERVICE_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ADMIN_KEY = "bench-admin-key-0123456789abcdef"
CHATS = 1000
SEND_PATH = "/open-apis/im/v1/messages"
COUNT_PATH = "/_bench/sent"
STARTUP_DEADLINE = 60.0


def app_ids(n: int) -> list[str]:
    return [f"cli_bench{i}" for i in range(n)]


def secret(app_id: str) -> str:
    return f"secret-{app_id}"


# -- the fake, in its own process -------------------------------------------------------------


def run_fake(port: int, apps: int) -> None:
    """Serve the fake until SIGTERM; ``GET /_bench/sent`` is the number of accepted sends."""
    import uvicorn
    from starlette.types import Message, Receive, Scope, Send

    from lark_service.testing.fake_lark import FakeLark
    from lark_service.testing.fake_lark.runner import http_impl

    fake = FakeLark(realtime=True)
    fake.record_requests = False
    fake.state["im_rate_scale"] = 0
    for app_id in app_ids(apps):
        fake.add_app(app_id, secret(app_id))
    sent = 0

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal sent
        if scope["type"] == "http" and scope["path"] == COUNT_PATH:
            body = str(sent).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "http" or scope["path"] != SEND_PATH:
            await fake(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            nonlocal sent
            if message["type"] == "http.response.start" and message["status"] == 200:
                sent += 1
            await send(message)

        await fake(scope, receive, watch)

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="asyncio",
        http=http_impl(fast=True),
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
    )


# -- helpers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.1)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(  # nosec B603 - our own command line, no shell
        [sys.executable, *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def sent_at_fake(client: httpx.AsyncClient) -> int:
    return int((await client.get(COUNT_PATH)).text)


async def bounded(
    n: int, concurrency: int, call: Callable[[int], Coroutine[Any, Any, Any]]
) -> None:
    """``call(0..n-1)``, ``concurrency`` at a time."""
    counter = iter(range(n))

    async def lane() -> None:
        for i in counter:
            await call(i)

    await asyncio.gather(*(lane() for _ in range(concurrency)))


def medians(rounds: list[tuple[float, float]]) -> tuple[float, float]:
    """The median rate and the median CPU per operation of the rounds, each on its own."""
    return statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)


# -- the three ways to send ------------------------------------------------------------------


async def bench_in_process(
    fake_url: str, apps: list[str], jobs: int, concurrency: int, repeat: int = 1
) -> tuple[float, float]:
    """Sends/s and this process's CPU seconds per `send_text` (medians of ``repeat`` rounds)."""
    from lark_service.adapters.memory import InMemoryMetrics
    from lark_service.application import MessagingClient
    from lark_service.domain import AppConfig
    from lark_service.entrypoints.embed import open_pool

    configs = [AppConfig(app_id=a, app_secret=secret(a)) for a in apps]
    async with open_pool(apps=configs, base_url=fake_url, metrics=InMemoryMetrics()) as pool:
        bot = MessagingClient(pool)
        await asyncio.gather(*(bot.send_text("oc_warm", "warm", app_id=a) for a in apps))

        async def one(i: int) -> None:
            await bot.send_text(f"oc_b{i % CHATS}", f"m{i}", app_id=apps[i % len(apps)])

        rounds = []
        for _ in range(repeat):
            cpu0, t0 = time.process_time(), time.perf_counter()
            await bounded(jobs, concurrency, one)
            cpu1, t1 = time.process_time(), time.perf_counter()
            rounds.append((jobs / (t1 - t0), (cpu1 - cpu0) / jobs))
    return medians(rounds)


async def bench_serve(
    env: dict[str, str],
    loop: str,
    apps: list[str],
    jobs: int,
    concurrency: int,
    tmp: Path,
    repeat: int = 1,
) -> tuple[float, float]:
    """Requests/s of ``POST /v1/messages`` and the server's CPU seconds per request (medians
    of ``repeat`` rounds)."""
    port = free_port()
    data = tmp / f"serve-{loop}"
    proc = start(
        ["-m", "lark_service.entrypoints.cli", "serve", "--port", str(port), "--loop", loop],
        {**env, "LARK_SERVICE_DATA_DIR": str(data), "LARK_SERVICE_ADMIN_KEY": ADMIN_KEY},
        tmp / f"serve-{loop}.log",
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(wait_http, f"{url}/healthz", proc)
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        # aiohttp, not httpx: httpx's pool costs this (client) process more than the server
        # spends per request, and the client would set the pace
        async with aiohttp.ClientSession(
            base_url=url,
            headers=headers,
            connector=aiohttp.TCPConnector(limit=concurrency),
            timeout=aiohttp.ClientTimeout(total=30),
        ) as client:

            async def one(i: int, app_id: str | None = None, chat: str | None = None) -> None:
                body = {
                    "app_id": app_id or apps[i % len(apps)],
                    "receive_id": chat or f"oc_b{i % CHATS}",
                    "msg_type": "text",
                    "content": {"text": f"m{i}"},
                }
                async with client.post("/v1/messages", json=body) as response:
                    if response.status != 200:
                        text = await response.text()
                        raise RuntimeError(f"POST /v1/messages: {response.status} {text}")
                    await response.read()

            await asyncio.gather(*(one(0, a, "oc_warm") for a in apps))
            rounds = []
            for _ in range(repeat):
                cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
                await bounded(jobs, concurrency, one)
                cpu1, t1 = cpu_seconds(proc.pid), time.perf_counter()
                rounds.append((jobs / (t1 - t0), (cpu1 - cpu0) / jobs))
    finally:
        stop(proc)
    return medians(rounds)


async def bench_worker(
    env: dict[str, str],
    loop: str,
    apps: list[str],
    jobs: int,
    concurrency: int,
    tmp: Path,
    fake: httpx.AsyncClient,
) -> tuple[float, float]:
    """Jobs/s from the first confirmed publish to the last message at the fake, and the
    worker's CPU seconds per job."""
    from lark_service.adapters.amqp import AmqpSendQueue, SendQueueOptions
    from lark_service.domain.jobs import SendJob

    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    queue = await AmqpSendQueue.connect(AMQP_URL, SendQueueOptions(prefix=prefix))
    proc = start(
        [
            "-m",
            "lark_service.entrypoints.cli",
            "worker",
            "--prefetch",
            str(concurrency),
            "--loop",
            loop,
        ],
        {
            **env,
            "LARK_SERVICE_DATA_DIR": str(tmp / f"worker-{loop}"),
            "LARK_SERVICE_AMQP_URL": AMQP_URL,
            "LARK_SERVICE_AMQP_PREFIX": prefix,
        },
        tmp / f"worker-{loop}.log",
    )

    def job(i: int, app_id: str | None = None, chat: str | None = None) -> SendJob:
        return SendJob(
            job_id=uuid.uuid4().hex,
            app_id=app_id or apps[i % len(apps)],
            receive_id=chat or f"oc_b{i % CHATS}",
            receive_id_type="chat_id",
            msg_type="text",
            content=f'{{"text": "m{i}"}}',
            enqueued_at=time.time(),
        )

    async def until(target: int) -> None:
        async with asyncio.timeout(120):
            while await sent_at_fake(fake) < target:
                if proc.poll() is not None:
                    raise RuntimeError(f"the worker exited; see {tmp}/worker-{loop}.log")
                await asyncio.sleep(0.01)

    try:
        base = await sent_at_fake(fake)
        for a in apps:  # warm up: a token per app, the store's first writes
            await queue.publish(job(0, a, "oc_warm"))
        await until(base + len(apps))
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()

        async def publish(i: int) -> None:
            await queue.publish(job(i))

        await bounded(jobs, 64, publish)
        published = time.perf_counter()
        await until(base + len(apps) + jobs)
        cpu1, t1 = cpu_seconds(proc.pid), time.perf_counter()
        print(f"{loop}: {jobs / (published - t0):.0f} jobs/s published with confirms", flush=True)
    finally:
        stop(proc)
        await _delete_queues(queue)
    return jobs / (t1 - t0), (cpu1 - cpu0) / jobs


async def _delete_queues(queue: Any) -> None:
    import aio_pika

    from lark_service.adapters.amqp import RetryPolicy

    topology = queue.topology
    await queue.aclose()
    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    async with connection:
        channel = await connection.channel()
        names = [topology.send_queue, topology.dead_queue]
        names += [topology.retry_queue(d) for d in RetryPolicy().delays]
        for name in names:
            await channel.queue_delete(name)


# -- the run ------------------------------------------------------------------------------------


def loop_factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if loop == "uvloop":
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="sends per measurement")
    parser.add_argument("--concurrency", type=int, default=64, help="sends in flight")
    parser.add_argument("--apps", type=int, default=40, help="apps the sends are spread over")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of --jobs for in-process and serve, each reported as its median",
    )
    sub = parser.add_subparsers(dest="mode")
    fake_mode = sub.add_parser("fake", help="(internal) serve the fake Lark server")
    fake_mode.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.mode == "fake":
        run_fake(args.port, args.apps)
        return 0

    loops = ["asyncio"]
    if importlib.util.find_spec("uvloop") is not None:
        loops.append("uvloop")
    else:
        print("uvloop not installed (pip install 'lark-service[speed]'): asyncio only")
    apps = app_ids(args.apps)
    with tempfile.TemporaryDirectory(prefix="lark-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        port = free_port()
        fake_proc = start(
            [__file__, "--apps", str(args.apps), "fake", "--port", str(port)], {}, tmp / "fake.log"
        )
        fake_url = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{fake_url}{COUNT_PATH}", fake_proc)
            apps_file = tmp / "apps.toml"
            apps_file.write_text(
                "".join(
                    f'[[apps]]\napp_id = "{a}"\napp_secret = "{secret(a)}"\n'
                    f'domain = "{fake_url}"\n\n'
                    for a in apps
                )
            )
            env = {"LARK_SERVICE_APPS_FILE": str(apps_file), "LARK_SERVICE_LOG_LEVEL": "WARNING"}
            results: dict[str, dict[str, tuple[float, float]]] = {}
            for loop in loops:

                async def measure(loop: str = loop) -> dict[str, tuple[float, float]]:
                    async with httpx.AsyncClient(base_url=fake_url) as fake:
                        return {
                            "in-process": await bench_in_process(
                                fake_url, apps, args.jobs, args.concurrency, args.repeat
                            ),
                            "serve": await bench_serve(
                                env, loop, apps, args.jobs, args.concurrency, tmp, args.repeat
                            ),
                            "worker": await bench_worker(
                                env, loop, apps, args.jobs, args.concurrency, tmp, fake
                            ),
                        }

                with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
                    results[loop] = runner.run(measure())
                print(f"{loop}: done", flush=True)
        finally:
            stop(fake_proc)
    report(results, args)
    return 0


def report(results: dict[str, dict[str, tuple[float, float]]], args: argparse.Namespace) -> None:
    loops = list(results)
    rows: list[list[object]] = []
    labels = {
        "in-process": ("in-process send_text", "sends/s", "CPU per send (this process)"),
        "serve": ("serve: POST /v1/messages", "requests/s", "CPU per request (server)"),
        "worker": ("worker: RabbitMQ jobs", "jobs/s", "CPU per job (worker)"),
    }
    for key, (name, unit, cpu) in labels.items():
        rows.append([f"{name} ({unit})", *(f"{results[lp][key][0]:.0f}" for lp in loops)])
        rows.append([f"  {cpu}, ms", *(f"{results[lp][key][1] * 1000:.3f}" for lp in loops)])
    rounds = f", medians of {args.repeat} rounds" if args.repeat > 1 else ""
    print_table(
        f"{args.jobs} sends, {args.concurrency} in flight, {args.apps} apps, 1 fake Lark server"
        + rounds,
        ["measure", *loops],
        rows,
    )
    ratios: list[list[object]] = []
    for lp in loops:
        r = results[lp]
        cpu_ratio = r["serve"][1] / r["in-process"][1]
        rate_ratio = r["worker"][0] / r["in-process"][0]
        ratios.append(
            [lp, f"{cpu_ratio:.2f}x", "yes" if cpu_ratio <= 2 else "NO", f"{rate_ratio:.2f}x"]
        )
        ratios[-1].append("yes" if rate_ratio >= 0.5 else "NO")
    print_table(
        "ratios",
        [
            "loop",
            "server CPU/POST vs in-process CPU/send",
            "<= 2x",
            "RabbitMQ jobs/s vs in-process sends/s",
            ">= 0.5x",
        ],
        ratios,
    )
    if "uvloop" in results:
        gain = [
            f"{key}: {results['uvloop'][key][0] / results['asyncio'][key][0]:.2f}x"
            for key in ("in-process", "serve", "worker")
        ]
        print("\nuvloop vs asyncio throughput: " + ", ".join(gain))


if __name__ == "__main__":
    sys.exit(main())
