"""Routing and raw ASGI helpers of the fake Lark server (no state).

`Router` matches static paths with one dict lookup and templated paths (Starlette syntax,
e.g. ``/open-apis/im/v1/messages/{message_id}``) with compiled regexes, tried only when the
path starts with the template's literal prefix. A path with a trailing slash matches the
route without it. Registering the same method and path again replaces the handler.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.convertors import Convertor
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Receive, Send

from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest

HandlerResult = dict[str, Any] | tuple[int, dict[str, Any]] | Response
Handler = Callable[[FakeRequest], Awaitable[HandlerResult]]
JSON_CT = b"application/json; charset=utf-8"
FAULT_KINDS = frozenset({"5xx", "latency", "drop", "rate_limit", "token_invalid"})
MSG_INVALID_AUTH = (
    "Invalid access token for authorization. Please make a request with token attached."
)
MSG_MISSING_AUTH = (
    "Missing access token for authorization. Please make a request with token attached."
)
_Dynamic = tuple[str, re.Pattern[str], dict[str, Convertor[Any]], Handler]


class Router:
    def __init__(self) -> None:
        self._static: dict[tuple[str, str], Handler] = {}
        self._dynamic: dict[tuple[str, str], _Dynamic] = {}
        self._by_method: dict[str, list[_Dynamic]] = {}

    def add(self, method: str, path: str, handler: Handler) -> None:
        method = method.upper()
        path = path.rstrip("/") or "/"
        if "{" not in path:
            self._static[(method, path)] = handler
            return
        regex, _, convertors = compile_path(path)
        self._dynamic[(method, path)] = (path.split("{", 1)[0], regex, convertors, handler)
        by_method: dict[str, list[_Dynamic]] = {}
        for (m, _), entry in self._dynamic.items():
            by_method.setdefault(m, []).append(entry)
        self._by_method = by_method

    def match(self, method: str, path: str) -> tuple[Handler | None, dict[str, Any]]:
        handler = self._static.get((method, path))
        if handler is not None:
            return handler, {}
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
            handler = self._static.get((method, path))
            if handler is not None:
                return handler, {}
        for prefix, regex, convertors, dynamic in self._by_method.get(method, ()):
            if path.startswith(prefix):
                found = regex.match(path)
                if found is not None:
                    params = {k: convertors[k].convert(v) for k, v in found.groupdict().items()}
                    return dynamic, params
        return None, {}


@dataclass(slots=True)
class Fault:
    kind: str
    path_prefix: str
    remaining: int
    latency: float
    retry_after: float
    status: int

    def error(self) -> FakeLarkError:
        """The reply of a ``5xx``, ``rate_limit`` or ``token_invalid`` fault."""
        if self.kind == "5xx":
            return FakeLarkError(self.status, 1000, "internal error")
        if self.kind == "rate_limit":
            limits = {
                "x-ogw-ratelimit-limit": "50",
                "x-ogw-ratelimit-reset": f"{self.retry_after:g}",
            }
            return FakeLarkError(429, 99991400, "request trigger frequency limit", headers=limits)
        return FakeLarkError(400, 99991663, MSG_INVALID_AUTH)


async def send_body(  # header names in Lark's casing: lark-oapi reads them from a plain dict
    send: Send,
    status: int,
    payload: bytes,
    log_id: str,
    headers: dict[str, str] | None = None,
    *,
    ctype: bytes = JSON_CT,
) -> None:
    raw = [
        (b"Content-Type", ctype),
        (b"Content-Length", str(len(payload)).encode()),
        (b"X-Tt-Logid", log_id.encode()),
    ]
    if headers:
        raw.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


async def drop_connection(send: Send) -> None:
    """Close the connection without a reply.

    uvicorn passes its per-request cycle's bound ``send``; closing that cycle's transport
    drops the connection (returning or raising instead would make uvicorn answer 500).
    Elsewhere (e.g. httpx.ASGITransport) this raises `ConnectionResetError`.
    """
    cycle: Any = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not callable(getattr(transport, "close", None)):
        raise ConnectionResetError("fake_lark: connection dropped (injected fault)")
    transport.close()
    if hasattr(cycle, "disconnected"):
        cycle.disconnected = True
    await asyncio.sleep(0)


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
