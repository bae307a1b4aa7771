"""The HTTP service on uvicorn in a thread of its own (for schemathesis, which calls a URL).

Everything the service holds (the pool's HTTP session, the queue's tasks) is created in the
thread's own event loop and closed there.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import uvicorn

from lark_service.domain import AppConfig
from lark_service.entrypoints.embed import open_pool
from lark_service.entrypoints.http import create_app
from lark_service.entrypoints.http.wiring import open_services


async def _no_wait(_: float) -> None:
    await asyncio.sleep(0)


@contextmanager
def service_in_thread(
    apps: Sequence[AppConfig], base_url: str, admin_key: str, *, startup_timeout: float = 15.0
) -> Iterator[str]:
    """Run the service (in-memory stores) against the fake at ``base_url``; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    holder: dict[str, uvicorn.Server] = {}
    failed: list[BaseException] = []

    async def main() -> None:
        async with open_pool(apps=apps, base_url=base_url, default_app_id=apps[0].app_id) as pool:
            async with open_services(pool, admin_key=admin_key, sleep=_no_wait) as services:
                config = uvicorn.Config(
                    create_app(services), log_level="warning", access_log=False, lifespan="on"
                )
                server = holder["server"] = uvicorn.Server(config)
                await server.serve(sockets=[sock])

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test
            failed.append(exc)

    thread = threading.Thread(target=run, name=f"service:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not (holder.get("server") and holder["server"].started):
        if failed or not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the service did not start: {failed}")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        holder["server"].should_exit = True
        thread.join(10)
        sock.close()
