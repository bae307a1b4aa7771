"""What the end-to-end tests control: a flaky front for the fake Lark server, a TCP proxy to
cut broker connections with, worker processes, and a scratch PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess  # nosec B404 - the tests start lark-service itself
import sys
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SEND_PATH = "/open-apis/im/v1/messages"
PG_ADMIN_URL = os.environ.get(
    "LARK_SERVICE_TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REPO = Path(__file__).resolve().parents[2]


class FlakySends:
    """An ASGI front for `FakeLark` that fails sends with HTTP 500 (Lark's code 1000).

    A fraction ``rate`` of ``POST /open-apis/im/v1/messages`` fails at random (seeded), and
    every send to a chat starting with ``poison`` fails, so those jobs end dead-lettered. It
    counts every send request it saw and, per ``uuid``, the sends the fake accepted (a resend
    of an accepted uuid is Lark's dedup at work: the same message comes back).
    """

    def __init__(
        self, inner: ASGIApp, *, rate: float = 0.1, seed: int = 9, poison: str = "oc_poison"
    ) -> None:
        self.inner = inner
        self.rate = rate
        self.poison = poison
        self._rng = random.Random(seed)  # nosec B311 - fault injection
        self._lock = threading.Lock()
        self.requests = 0
        self.failed = 0
        self.accepted: Counter[str] = Counter()

    def snapshot(self) -> tuple[int, int, Counter[str]]:
        with self._lock:
            return self.requests, self.failed, Counter(self.accepted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != SEND_PATH:
            await self.inner(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        fields: dict[str, Any] = json.loads(body or b"{}")
        receive_id = str(fields.get("receive_id", ""))
        with self._lock:
            self.requests += 1
            fail = receive_id.startswith(self.poison) or self._rng.random() < self.rate
            if fail:
                self.failed += 1
        if fail:
            payload = json.dumps(
                {"code": 1000, "msg": "internal error", "error": {"log_id": "FLAKY"}}
            ).encode()
            headers = [
                (b"Content-Type", b"application/json; charset=utf-8"),
                (b"Content-Length", str(len(payload)).encode()),
                (b"X-Tt-Logid", b"FLAKY"),
            ]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        status: list[int] = []

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.inner(scope, replay, watch)
        if status == [200] and fields.get("uuid"):
            with self._lock:
                self.accepted[str(fields["uuid"])] += 1


class TcpProxy:
    """A TCP proxy to ``target`` on a free local port, in a thread; `cut` drops every
    connection through it at once (an RST each way), as a broker restart or a network
    failure would. New connections are accepted again right away."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self.port = 0
        self.cuts = 0
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the TCP proxy did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                up_reader, up_writer = await asyncio.open_connection(*self._target)
        except (OSError, TimeoutError):
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}

    def connections(self) -> int:
        return len(self._writers) // 2

    def cut(self) -> int:
        """Abort every proxied connection; returns how many there were."""

        def abort() -> int:
            found = list(self._writers)
            for writer in found:
                writer.transport.abort()
            return len(found) // 2

        cut: int = asyncio.run_coroutine_threadsafe(_call(abort), self._loop).result(10)
        self.cuts += 1
        return cut

    def close(self) -> None:
        def stop() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(10)


async def _call(fn: Any) -> Any:
    return fn()


class LarkServiceProcess:
    """``lark-service ARGS...`` in a child process, its output in ``log``."""

    def __init__(self, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._out: IO[bytes] = log.open("ab")
        full_env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(  # nosec B603 - our own command line, no shell
            [sys.executable, "-m", "lark_service.entrypoints.cli", *args],
            env=full_env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown at all, as a crash or an OOM kill."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, within: float = 30.0) -> int:
        """SIGTERM and the exit code (killed after ``within`` seconds)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise
        finally:
            self._out.close()


@contextlib.asynccontextmanager
async def scratch_postgres() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); skips when unreachable."""
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect():
            pass
    except OSError as exc:
        await admin.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable ({type(exc).__name__})")
    name = f"lark_e2e_{uuid.uuid4().hex[:12]}"
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": name},
            )
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await admin.dispose()


def apps_toml(apps: list[tuple[str, str]], base_url: str) -> str:
    """An ``LARK_SERVICE_APPS_FILE`` with ``(app_id, secret)`` apps at ``base_url``."""
    return "".join(
        f'[[apps]]\napp_id = "{app_id}"\napp_secret = "{secret}"\ndomain = "{base_url}"\n\n'
        for app_id, secret in apps
    )
