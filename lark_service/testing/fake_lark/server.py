"""The fake Lark server: state, clock, fault injection, routing and the ASGI app.

Reproduced Lark behaviour (lark-api-reference.md §2): a handler's ``dict`` result is sent as
``{"code": 0, "msg": "success", "data": ...}``; errors as ``{"code", "msg", "error":
{"log_id"}}``; every response carries ``X-Tt-Logid`` and JSON is sent as
``application/json; charset=utf-8``. Bearer tokens are checked by `FakeLark.require_token`:
missing → 99991661, unknown/expired/invalidated tenant token → 99991663, app token →
99991664, user token → 99991668 (99991677 once expired), any other prefix → 99991671; all
with HTTP 400.

Choices where Lark's docs are silent: an unknown path answers HTTP 404 ``404 page not found``
as plain text; a token of a kind the API does not take answers 99991663 (tenant APIs), else
99991668 (user APIs), else 99991664; an injected ``5xx`` fault answers code 1000
``internal error``; an injected ``drop`` closes the socket without a reply under uvicorn and
raises `ConnectionResetError` in process (`InProcessLarkTransport` turns it into a
`TransportError`, as the aiohttp transport does with a closed socket; httpx.ASGITransport
lets it propagate).

Endpoint modules are plain modules with ``register(fake)`` using ``@fake.route(...)``;
`FakeLark` registers the built-in ones (`areas.REGISTER`) and then every function in `EXTENSIONS`.
Registering the
same method and path again replaces the earlier handler. Modules may keep their state in
``fake.state`` and hook `FakeLark.reset` through `FakeLark.on_reset`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

from lark_service.testing.fake_lark.models import (
    FakeApp,
    FakeLarkError,
    FakeRequest,
    RecordedRequest,
    TokenInfo,
)
from lark_service.testing.fake_lark.tokens import TokenStore
from lark_service.testing.fake_lark.wire import (
    FAULT_KINDS,
    Fault,
    Handler,
    HandlerResult,
    Router,
    drop_connection,
    lifespan,
    send_body,
)

if TYPE_CHECKING:
    from lark_service.testing.fake_lark.ws import FakeLongConnections

_LARK_HEADER_CASE = {
    "content-disposition": "Content-Disposition",
    "x-ogw-ratelimit-limit": "x-ogw-ratelimit-limit",
    "x-ogw-ratelimit-reset": "x-ogw-ratelimit-reset",
}

Register = Callable[["FakeLark"], None]

# Extra areas registered after the built-in ones (`areas.REGISTER`); tests add their own here.
EXTENSIONS: tuple[Register, ...] = ()

__all__ = ["EXTENSIONS", "FakeLark", "Handler", "HandlerResult"]


class FakeLark:
    """An in-memory Lark Open API. The instance is itself an ASGI app (``fake.app is fake``);
    the clock only moves on `advance` (or also with real time when ``realtime=True``)."""

    max_recorded = 200_000

    def __init__(self, start_time: float | None = None, *, realtime: bool = False) -> None:
        self._start = time.time() if start_time is None else float(start_time)
        self._offset = 0.0
        self._mono = time.monotonic() if realtime else None
        self._lock = threading.Lock()
        self.apps: dict[str, FakeApp] = {}
        self.tokens = TokenStore(self.now)
        self.requests: list[RecordedRequest] = []
        self.record_requests = True
        self.messages: list[dict[str, Any]] = []
        self.message_uuids: dict[tuple[str, str], dict[str, Any]] = {}
        self.state: dict[str, Any] = {}
        # token endpoint path -> function naming the app a request body is for (auth.py)
        self.token_paths: dict[str, Callable[[bytes], str]] = {}
        self._token_counts: dict[str, int] = {}
        self._faults: list[Fault] = []
        self._reset_hooks: list[Callable[[], None]] = []
        self.router = Router()
        self._log_prefix = time.strftime("%Y%m%d%H%M%S", time.gmtime(self._start)) + "FAKE"
        self._log_seq = itertools.count(1)
        self.app: ASGIApp = self  # FakeLark is itself the ASGI app (see __call__)
        # WebSocket scopes go here (ws.py: the long connection); set by an area
        self.websocket_app: ASGIApp | None = None
        self.long_connections: FakeLongConnections
        # Imported here: every area module imports this one for `FakeLark` and `HandlerResult`.
        from lark_service.testing.fake_lark.areas import REGISTER

        for register in (*REGISTER, *EXTENSIONS):
            register(self)

    # clock -----------------------------------------------------------------------------
    def now(self) -> float:
        if self._mono is None:
            return self._start + self._offset
        return self._start + self._offset + (time.monotonic() - self._mono)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    # apps and tokens -------------------------------------------------------------------
    def add_app(
        self,
        app_id: str,
        app_secret: str,
        *,
        app_type: str = "self_built",
        tenant_keys: tuple[str, ...] = ("tenant_default",),
        name: str = "",
    ) -> FakeApp:
        if app_type not in ("self_built", "marketplace"):
            raise ValueError(f"app_type must be 'self_built' or 'marketplace', not {app_type!r}")
        if not tenant_keys:
            raise ValueError("an app needs at least one tenant_key")
        open_id = "ou_" + hashlib.sha256(f"bot:{app_id}".encode()).hexdigest()[:32]
        app = FakeApp(app_id, app_secret, app_type, tuple(tenant_keys), name or app_id, open_id)
        with self._lock:
            self.apps[app_id] = app
        return app

    def get_app(self, app_id: str) -> FakeApp:
        try:
            return self.apps[app_id]
        except KeyError:
            raise KeyError(f"fake_lark: unknown app {app_id!r}") from None

    def token_requests(self, app_id: str | None = None) -> int:
        with self._lock:
            if app_id is None:
                return sum(self._token_counts.values())
            return self._token_counts.get(app_id, 0)

    def token_request_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._token_counts)

    def count_token_request(self, app_id: str) -> None:
        with self._lock:
            self._token_counts[app_id] = self._token_counts.get(app_id, 0) + 1

    def invalidate_tokens(self, app_id: str | None = None) -> None:
        self.tokens.invalidate(app_id)

    def issue_user_token(
        self,
        app_id: str,
        user_id: str,
        *,
        expires_in: int = 7200,
        refresh_expires_in: int = 2592000,
        scope: str = "",
    ) -> dict[str, Any]:
        app = self.get_app(app_id)
        return self.tokens.issue_user(
            app_id,
            user_id,
            app.tenant_keys[0],
            expires_in=expires_in,
            refresh_expires_in=refresh_expires_in,
            scope=scope,
        )

    def add_auth_code(
        self,
        app_id: str,
        user_id: str,
        code: str,
        *,
        redirect_uri: str | None = None,
        scope: str = "",
    ) -> None:
        """Register an authorization code (5 min, single use); ``redirect_uri`` is checked
        on exchange when given."""
        self.get_app(app_id)
        self.tokens.add_code(app_id, user_id, code, redirect_uri, scope)

    def push_ws_event(
        self, app_id: str, event: bytes | str | dict[str, Any], *, parts: int = 1
    ) -> str:
        """Push an event over the app's long connection (ws.py); returns its message_id."""
        return self.long_connections.push_event(app_id, event, parts=parts)

    def push_app_ticket(self, app_id: str) -> str:
        """Generate the marketplace app's new current app_ticket and return it."""
        self.get_app(app_id)
        return self.tokens.new_ticket(app_id)

    def app_ticket(self, app_id: str) -> str | None:
        """The latest app_ticket (also the one generated by ``app_ticket/resend``)."""
        return self.tokens.latest_ticket(app_id)

    def require_token(
        self, req: FakeRequest, *, kinds: tuple[str, ...] = ("tenant", "user")
    ) -> TokenInfo:
        """Check the request's ``Authorization: Bearer`` token; raise `FakeLarkError`."""
        info = self.tokens.authorize(req.headers.get("authorization", ""), kinds)
        req.token_info = info
        if req.record is not None:
            req.record.token_info = info
        return info

    # faults and reset ------------------------------------------------------------------
    def inject_fault(
        self,
        kind: str,
        *,
        path_prefix: str = "/open-apis/",
        count: int = 1,
        latency: float = 0.0,
        retry_after: float = 1,
        status: int = 500,
    ) -> None:
        """Arm a fault for the next ``count`` requests whose path starts with ``path_prefix``.

        ``token_invalid`` never fires on the token endpoints (they take no token).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.append(Fault(kind, path_prefix, count, latency, retry_after, status))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def on_reset(self, hook: Callable[[], None]) -> None:
        self._reset_hooks.append(hook)

    def reset(self) -> None:
        """Forget requests, counters, faults, tokens, codes, tickets and messages (not apps)."""
        with self._lock:
            self.requests.clear()
            self._token_counts.clear()
            self._faults.clear()
            self.messages.clear()
            self.message_uuids.clear()
        self.tokens.clear()
        for hook in self._reset_hooks:
            hook()

    # routing ---------------------------------------------------------------------------
    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Register ``async def handler(req: FakeRequest)`` for ``method`` and ``path``
        (Starlette syntax). It returns a ``dict`` (wrapped in the success envelope), a
        ``(status, body)`` tuple (``body`` sent as-is, e.g. for the token endpoints) or a
        Starlette ``Response``; or raises `FakeLarkError`."""

        def decorate(handler: Handler) -> Handler:
            self.add_route(method, path, handler)
            return handler

        return decorate

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        self.router.add(method, path, handler)

    # ASGI ------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await lifespan(receive, send)
            elif scope["type"] == "websocket" and self.websocket_app is not None:
                await self.websocket_app(scope, receive, send)
            return
        message = await receive()
        body: bytes = message.get("body", b"")
        while message.get("more_body"):
            message = await receive()
            body += message.get("body", b"")
        method: str = scope["method"]
        path: str = scope["path"]
        qs: bytes = scope.get("query_string", b"")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        log_id = f"{self._log_prefix}{next(self._log_seq):012X}"
        record: RecordedRequest | None = None
        if not path.startswith("/_fake/"):
            if self.record_requests:
                query = parse_qsl(qs.decode("latin-1"), keep_blank_values=True) if qs else []
                record = RecordedRequest(method, path, query, headers, body)
                self._record(record)
            resolver = self.token_paths.get(path)
            if resolver is not None:
                self.count_token_request(resolver(body))
            if self._faults and await self._fire_faults(path, resolver is not None, send, log_id):
                return
        handler, params = self.router.match(method, path)
        if handler is None:
            await send_body(send, 404, b"404 page not found", log_id, ctype=b"text/plain")
            return
        req = FakeRequest(method, path, params, headers, body, qs, record)
        extra_headers: dict[str, str] | None = None
        try:
            result = await handler(req)
        except FakeLarkError as exc:
            status, payload, extra_headers = exc.http_status, exc.body(log_id), exc.headers
        else:
            if isinstance(result, dict):
                status, payload = 200, {"code": 0, "msg": "success", "data": result}
            elif isinstance(result, tuple):
                status, payload = result
            else:
                # Starlette lower-cases header names; Lark's casing is restored (lark-oapi
                # reads Content-Disposition and X-Tt-Logid from a case-sensitive dict).
                kept = {
                    _LARK_HEADER_CASE.get(k, k): v
                    for k, v in result.headers.items()
                    if k not in ("content-type", "content-length", "x-tt-logid")
                }
                ctype = result.headers.get("content-type", "application/octet-stream")
                await send_body(
                    send, result.status_code, bytes(result.body), log_id, kept, ctype=ctype.encode()
                )
                return
        await send_body(send, status, msgspec.json.encode(payload), log_id, extra_headers)

    def _record(self, record: RecordedRequest) -> None:
        self.requests.append(record)
        if len(self.requests) > self.max_recorded:
            with self._lock:
                del self.requests[: len(self.requests) // 2]

    async def _fire_faults(self, path: str, token_path: bool, send: Send, log_id: str) -> bool:
        delay, fired = 0.0, None
        with self._lock:
            for fault in list(self._faults):
                if not path.startswith(fault.path_prefix):
                    continue
                if fault.kind == "token_invalid" and token_path:
                    continue
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                if fault.kind != "latency":
                    fired = fault
                    break
                delay += fault.latency
        if delay:
            await asyncio.sleep(delay)
        if fired is None:
            return False
        if fired.kind == "drop":
            await drop_connection(send)
            return True
        err = fired.error()
        payload = msgspec.json.encode(err.body(log_id))
        await send_body(send, err.http_status, payload, log_id, err.headers)
        return True
