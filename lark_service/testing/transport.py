"""`InProcessLarkTransport`: the `LarkTransport` port served by a `FakeLark` in memory.

Every request is handed to the fake's ASGI callable directly: no socket, no HTTP parser, no
thread (a sequential call takes tens of microseconds). Around that exchange it does what the
aiohttp transport does, with the same code (`adapters.lark_http.calls` and
`adapters.lark_http.envelope`): the same headers, JSON and multipart bodies (aiohttp's own
encoder), envelope decoding into typed errors, retries per `RetryPolicy`, metrics, a total
timeout per attempt. The fake's ``drop`` fault and a timeout surface as `TransportError`, as
over a socket; an exception inside a fake handler answers HTTP 500 (as uvicorn would) and
is logged with its traceback.

The request's ``base_url`` is ignored: every app, whatever its ``domain``, reaches the fake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import unquote, urlencode

import aiohttp

from lark_service.adapters.lark_http.calls import (
    JSON_CONTENT_TYPE,
    USER_AGENT,
    Sleep,
    call_with_retries,
    request_headers,
)
from lark_service.adapters.lark_http.envelope import parse_reply
from lark_service.adapters.lark_http.retry import RetryPolicy
from lark_service.domain.errors import LarkServiceError, TransportError
from lark_service.domain.ports.metrics import Metrics, NullMetrics
from lark_service.domain.ports.transport import LarkTransport
from lark_service.domain.wire import FormField, LarkReply, LarkRequest
from lark_service.testing.fake_lark.server import FakeLark

__all__ = ["InProcessLarkTransport"]

log = logging.getLogger("lark_service.testing")

_DISCONNECT = {"type": "http.disconnect"}
_ASGI = {"version": "3.0", "spec_version": "2.3"}
_INTERNAL_ERROR = b"Internal Server Error"


class InProcessLarkTransport(LarkTransport):
    """Sends ``LarkRequest``s to ``fake`` in memory, with the real transport's semantics."""

    def __init__(
        self,
        fake: FakeLark,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        metrics: Metrics | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.fake = fake
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._metrics = metrics or NullMetrics()
        self._sleep = sleep
        self._closed = False
        self._server_tasks: set[asyncio.Future[tuple[int, dict[str, str], bytes]]] = set()

    async def call(self, request: LarkRequest) -> LarkReply:
        if self._closed:
            raise TransportError("the transport is closed", api=request.api, app_id=request.app_id)
        return await call_with_retries(
            request, self._attempt, retry=self._retry, metrics=self._metrics, sleep=self._sleep
        )

    async def aclose(self) -> None:
        self._closed = True

    async def close_loop_sessions(self) -> None:
        """Nothing to release: no sessions are kept (the aiohttp transport's counterpart)."""

    async def _attempt(self, request: LarkRequest) -> LarkReply | LarkServiceError:
        headers = request_headers(request)
        body = request.body or b""
        if request.form is not None:
            body, headers["Content-Type"] = await _multipart(request.form)
        elif request.body is not None:
            headers["Content-Type"] = JSON_CONTENT_TYPE
        # The fake handles the request in its own task, as a server would: a caller that gives
        # up (timeout, cancellation) does not stop Lark from finishing, e.g. storing a message.
        server = asyncio.ensure_future(self._exchange(request, headers, body))
        self._server_tasks.add(server)
        server.add_done_callback(self._server_tasks.discard)
        try:
            async with asyncio.timeout(self._timeout):
                status, reply_headers, content = await asyncio.shield(server)
        except (TimeoutError, OSError) as exc:
            return TransportError(
                f"{type(exc).__name__} talking to Lark: {exc}",
                api=request.api,
                app_id=request.app_id,
            )
        return parse_reply(request, status, reply_headers, content)

    async def _exchange(
        self, request: LarkRequest, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        path, _, query = request.path.partition("?")
        if request.query:
            query = (query + "&" if query else "") + urlencode(request.query)
        raw = [
            (b"host", b"fake-lark"),
            (b"user-agent", USER_AGENT.encode()),
            (b"accept", b"*/*"),
            (b"content-length", str(len(body)).encode()),
        ]
        raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": "1.1",
            "method": request.method.upper(),
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 0),
            "server": ("fake-lark", 80),
        }
        exchange = _Exchange(body)
        try:
            await self.fake.app(scope, exchange.receive, exchange.send)
        except ConnectionResetError:
            raise
        except Exception:
            if exchange.status:  # the reply was started: uvicorn would cut the connection
                raise ConnectionResetError("fake_lark: the handler failed mid-reply") from None
            log.exception("fake_lark: the handler of %s %s failed", request.method, path)
            return 500, {"content-type": "text/plain; charset=utf-8"}, _INTERNAL_ERROR
        return exchange.status, exchange.headers, b"".join(exchange.chunks)


class _Exchange:
    """The ASGI receive/send pair of one request (no ``transport``: `drop` raises)."""

    __slots__ = ("body", "chunks", "headers", "status")

    def __init__(self, body: bytes) -> None:
        self.body: bytes | None = body
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []

    async def receive(self) -> dict[str, Any]:
        body, self.body = self.body, None
        if body is None:
            return _DISCONNECT
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = int(message["status"])
            # parse_reply looks names up in lower case, like aiohttp's case-insensitive dict
            self.headers = {
                k.decode("latin-1").lower(): v.decode("latin-1")
                for k, v in message.get("headers", ())
            }
        elif kind == "http.response.body":
            self.chunks.append(message.get("body", b""))


class _Sink:
    """Collects what aiohttp's multipart writer writes."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def write(self, chunk: bytes) -> None:
        self.chunks.append(bytes(chunk))


async def _multipart(fields: list[FormField]) -> tuple[bytes, str]:
    """Encode a form exactly as the aiohttp transport sends it; (body, content type)."""
    form = aiohttp.FormData()
    for part in fields:
        form.add_field(
            part.name, part.value, filename=part.filename, content_type=part.content_type
        )
    payload: Any = form()
    sink = _Sink()
    await payload.write(sink)
    return b"".join(sink.chunks), str(payload.content_type)
