"""Serve a `FakeLark` over a real socket with uvicorn, in a daemon thread.

`serve_in_thread` binds the socket itself (so ``port=0`` picks a free port), starts uvicorn
(asyncio loop, h11, log level warning, no access log, no lifespan, idle connections kept
`KEEP_ALIVE` seconds) and returns once the server accepts connections.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from types import TracebackType

import uvicorn

from lark_service.testing.fake_lark.server import FakeLark

__all__ = ["KEEP_ALIVE", "RunningServer", "serve_in_thread", "tcp_listener"]

# Seconds an idle connection is kept open. It must outlast the client's (our aiohttp
# transport keeps one 60 s): with uvicorn's default of 5 s the fake closed connections the
# client still counted as reusable, and the next request on one failed ("Can not write
# request body"). 75 s is what gateways in front of an API typically keep (nginx's default).
KEEP_ALIVE = 75


def http_impl(*, fast: bool = False) -> str:
    """The uvicorn HTTP implementation: h11 by default, because it keeps header names as
    written (``X-Tt-Logid``) like Lark's servers, and lark-oapi looks them up
    case-sensitively; httptools (``fast=True``, lower-cases names) for benchmarks."""
    if fast and importlib.util.find_spec("httptools") is not None:
        return "httptools"
    return "h11"


class RunningServer:
    """A fake Lark served in a background thread; ``base_url`` is e.g. http://127.0.0.1:PORT."""

    def __init__(
        self, fake: FakeLark, server: uvicorn.Server, thread: threading.Thread, base_url: str
    ) -> None:
        self.fake = fake
        self.base_url = base_url
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def tcp_listener(family: socket.AddressFamily = socket.AF_INET) -> socket.socket:
    """A listening-to-be TCP socket whose accepted connections get TCP_NODELAY.

    asyncio sets TCP_NODELAY only on sockets whose ``proto`` is ``IPPROTO_TCP``; a socket made
    with ``socket.socket(family, SOCK_STREAM)`` has proto 0, so its accepted connections kept
    Nagle's algorithm and every sequential reply waited ~40 ms for the client's delayed ACK.
    Linux also copies TCP_NODELAY from the listening socket to accepted ones.
    """
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def serve_in_thread(
    fake: FakeLark, host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 10.0
) -> RunningServer:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = tcp_listener(family)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        fake.app,
        loop="asyncio",
        interface="asgi3",
        http=http_impl(),
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=2048,
        timeout_keep_alive=KEEP_ALIVE,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"fake-lark:{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("fake_lark: uvicorn did not start")
        time.sleep(0.005)
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    return RunningServer(fake, server, thread, f"http://{shown}:{bound_port}")
