"""A TCP proxy the test controls, between a client (the pool's store) and a real server.

Modes apply to every open connection at once and to new ones:

* ``pass``: bytes flow both ways;
* ``drop``: bytes are read and discarded in both directions, as by a network path that
  silently drops packets (no reset, no error: the peer just never hears back);
* ``reset``: every connection is closed with a TCP reset, new ones too;
* ``block``: nothing is read any more, so the writer's buffers fill and writes stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from typing import Literal

Mode = Literal["pass", "drop", "reset", "block"]
_CHUNK = 65536


class TcpProxy:
    """Listens on 127.0.0.1 (``port``) and forwards to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "pass"
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._unblocked = asyncio.Event()
        self._unblocked.set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "block":
            self._unblocked.clear()
        else:
            self._unblocked.set()
        if mode == "reset":
            for writer in list(self._writers):
                _reset(writer)

    def current_mode(self) -> Mode:
        return self.mode

    async def aclose(self) -> None:
        self._unblocked.set()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            _reset(writer)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "reset":
            _reset(client_w)
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(client_w)
            return
        self._writers |= {client_w, server_w}
        try:
            await asyncio.gather(self._pump(client_r, server_w), self._pump(server_r, client_w))
        finally:
            for w in (client_w, server_w):
                self._writers.discard(w)
                w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while True:
                await self._unblocked.wait()
                data = await reader.read(_CHUNK)
                if not data:
                    break
                if self.mode == "drop":
                    continue  # read and discarded: the peer waits forever
                if self.mode == "block":
                    await self._unblocked.wait()  # the mode may change meanwhile
                    if self.current_mode() == "drop":
                        continue
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@contextlib.asynccontextmanager
async def tcp_proxy(target_host: str, target_port: int) -> AsyncIterator[TcpProxy]:
    proxy = await TcpProxy(target_host, target_port).start()
    try:
        yield proxy
    finally:
        await proxy.aclose()
