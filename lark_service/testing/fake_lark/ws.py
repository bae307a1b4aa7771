"""The long-connection side of the fake (lark-api-reference.md §7, "Long connection").

Served only over a real socket (`runner.serve_in_thread`; the in-process transports carry
HTTP only):

    POST /callback/ws/endpoint  {AppID, AppSecret}
        -> {"code":0,"msg":"ok","data":{"URL":"ws://HOST/ws/v2?device_id=…&service_id=…
           &ticket=…","ClientConfig":{ReconnectCount, ReconnectInterval, ReconnectNonce,
           PingInterval}}}
    WS   /ws/v2?ticket=…        protobuf ``pbbp2.Frame``s both ways

Behaviour: a ping (control frame ``type=ping``) is answered with a pong carrying the
ClientConfig; a pushed event goes to the app's newest connection as a data frame
``type=event`` (or ``card``), split into ``parts`` frames with ``sum``/``seq`` when asked;
it stays *unacked* until the client answers a frame with its ``message_id`` and code 200,
and every unacked push is sent again to each new connection of the app (Lark re-delivers
what was not answered, or answered with an error; `redeliver` does it on demand). Answers
are recorded (`FakeLongConnections.acks`). Connections are counted (current, most at once,
total) per app.

Choices where Lark is silent: a wrong AppSecret answers code 10014 ``app secret invalid``
and an unknown AppID 10003 (as the token endpoints do); a bad ticket is refused before the
handshake (HTTP 403); a ticket works for 5 minutes and more than once; a ``drop`` closes
the socket with 1011.

Faults, per app, on the connections open at the time: `drop` (close now), `silence` (stop
answering pings, keep everything else), `half_open` (stop answering, sending and reading:
the socket stays open but dead, until the client gives up on it), and
`drop_on_ack` (the next ``count`` answers are lost with the socket closing, so the push is
sent again and the client's dedup has to drop it). `busy` makes the next ``count``
discoveries answer code 1 ``system busy``.

Control endpoints (for a fake in another process): ``POST /_fake/ws/events {app_id, event,
parts?, type?}`` → ``{message_id}``; ``POST /_fake/ws/faults {app_id?, kind, count?}``;
``POST /_fake/ws/config {PingInterval?, ...}``; ``GET /_fake/ws/stats``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.routing import Router, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from lark_service.adapters.lark_ws.frames import (
    HEADER_MESSAGE_ID,
    HEADER_SEQ,
    HEADER_SUM,
    HEADER_TRACE_ID,
    HEADER_TYPE,
    METHOD_CONTROL,
    METHOD_DATA,
    TYPE_PING,
    TYPE_PONG,
    Frame,
    FrameError,
    decode_frame,
    encode_frame,
)
from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest, control_body
from lark_service.testing.fake_lark.server import FakeLark, HandlerResult

__all__ = ["ENDPOINT_PATH", "WS_PATH", "FakeLongConnections", "WsAck", "register"]

ENDPOINT_PATH = "/callback/ws/endpoint"
WS_PATH = "/ws/v2"
TICKET_TTL = 300.0
FAULTS = frozenset({"drop", "silence", "half_open", "drop_on_ack", "busy"})
_CLOSE = object()  # put on a connection's outbox: close the socket


@dataclass(frozen=True, slots=True)
class WsAck:
    """A client's answer to a push: its ``code`` and the decoded ``data`` (None if none)."""

    app_id: str
    message_id: str
    code: int
    data: Any
    biz_rt: str


@dataclass(slots=True)
class _Conn:
    app_id: str
    service_id: int
    loop: asyncio.AbstractEventLoop
    outbox: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    silent: bool = False
    half_open: bool = False

    def post(self, item: Any) -> None:
        """Queue ``item`` from any thread."""
        self.loop.call_soon_threadsafe(self.outbox.put_nowait, item)


@dataclass(slots=True)
class _Stats:
    connections: int = 0
    max_connections: int = 0
    connects: int = 0
    pings: int = 0
    pushed: int = 0


class FakeLongConnections:
    """The fake's long-connection state; thread-safe (tests push from their own thread)."""

    def __init__(self, fake: FakeLark) -> None:
        self._fake = fake
        self._lock = threading.Lock()
        self.config: dict[str, float] = {
            "ReconnectCount": -1,
            "ReconnectInterval": 120,
            "ReconnectNonce": 30,
            "PingInterval": 120,
        }
        self._tickets: dict[str, tuple[str, float]] = {}
        self._conns: dict[str, list[_Conn]] = {}
        self._pending: dict[str, dict[str, list[Frame]]] = {}
        self._acks: list[WsAck] = []
        self._stats: dict[str, _Stats] = {}
        self._drop_on_ack: dict[str, int] = {}
        self._busy = 0
        self._seq = itertools.count(1)
        self._service_ids = itertools.count(1001)

    # the test's side -------------------------------------------------------------------
    def set_config(self, **config: float) -> None:
        """Change the ClientConfig sent on discovery and with pongs (Lark's key names)."""
        unknown = set(config) - set(self.config)
        if unknown:
            raise ValueError(f"unknown ClientConfig keys: {sorted(unknown)}")
        with self._lock:
            self.config.update(config)

    def push_event(
        self,
        app_id: str,
        event: bytes | str | dict[str, Any],
        *,
        parts: int = 1,
        type: str = "event",
    ) -> str:
        """Push a push's JSON to the app's newest connection (or keep it for the next one);
        returns the frame's ``message_id``."""
        self._fake.get_app(app_id)
        payload = _as_bytes(event)
        if not 1 <= parts <= max(1, len(payload)):
            raise ValueError("parts must be between 1 and the payload's length")
        message_id = f"msg_{uuid.uuid4().hex}"
        size = -(-len(payload) // parts)
        frames = [
            Frame(
                method=METHOD_DATA,
                service=1,
                seq_id=next(self._seq),
                headers={
                    HEADER_TYPE: type,
                    HEADER_MESSAGE_ID: message_id,
                    HEADER_SUM: str(parts),
                    HEADER_SEQ: str(i),
                    HEADER_TRACE_ID: secrets.token_hex(8),
                },
                payload=payload[i * size : (i + 1) * size],
            )
            for i in range(parts)
        ]
        with self._lock:
            self._pending.setdefault(app_id, {})[message_id] = frames
            self._stat(app_id).pushed += 1
            conns = [c for c in self._conns.get(app_id, ()) if not c.half_open]
            target = conns[-1] if conns else None
        if target is not None:
            target.post(frames)
        return message_id

    def inject(self, kind: str, app_id: str | None = None, *, count: int = 1) -> None:
        """Arm a fault (see the module doc) for ``app_id``'s connections (all apps: None)."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULTS)}")
        with self._lock:
            if kind == "busy":
                self._busy += count
                return
            if kind == "drop_on_ack":
                for app in [app_id] if app_id else list(self._fake.apps):
                    self._drop_on_ack[app] = self._drop_on_ack.get(app, 0) + count
                return
            conns = [c for a, cs in self._conns.items() if app_id in (None, a) for c in cs]
            for conn in conns:
                if kind == "silence":
                    conn.silent = True
                elif kind == "half_open":
                    conn.silent = conn.half_open = True
        if kind == "drop":
            for conn in conns:
                conn.post(_CLOSE)

    def redeliver(self, app_id: str) -> int:
        """Send the app's unacked pushes again now (Lark's retry of a push answered with
        an error); returns how many."""
        with self._lock:
            unacked = list(self._pending.get(app_id, {}).values())
            conns = [c for c in self._conns.get(app_id, ()) if not c.half_open]
        if conns:
            for frames in unacked:
                conns[-1].post(frames)
        return len(unacked) if conns else 0

    def acks(self, app_id: str | None = None) -> list[WsAck]:
        with self._lock:
            return [a for a in self._acks if app_id in (None, a.app_id)]

    def unacked(self, app_id: str) -> int:
        with self._lock:
            return len(self._pending.get(app_id, {}))

    def connections(self, app_id: str) -> int:
        """Sockets of the app open now (half-open ones included)."""
        with self._lock:
            return self._stat(app_id).connections

    def max_connections(self, app_id: str) -> int:
        with self._lock:
            return self._stat(app_id).max_connections

    def connects(self, app_id: str) -> int:
        """Handshakes accepted for the app so far."""
        with self._lock:
            return self._stat(app_id).connects

    def pings(self, app_id: str) -> int:
        with self._lock:
            return self._stat(app_id).pings

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                app: {
                    "connections": s.connections,
                    "max_connections": s.max_connections,
                    "connects": s.connects,
                    "pings": s.pings,
                    "pushed": s.pushed,
                    "unacked": len(self._pending.get(app, {})),
                    "acks": sum(1 for a in self._acks if a.app_id == app),
                }
                for app, s in self._stats.items()
            }

    def reset(self) -> None:
        with self._lock:
            self._pending.clear()
            self._acks.clear()
            self._drop_on_ack.clear()
            self._busy = 0
            for app, stat in list(self._stats.items()):
                open_now = stat.connections
                self._stats[app] = _Stats(connections=open_now, max_connections=open_now)

    # the server's side -----------------------------------------------------------------
    def _stat(self, app_id: str) -> _Stats:
        return self._stats.setdefault(app_id, _Stats())

    def discover(self, body: dict[str, Any], host: str) -> tuple[int, dict[str, Any]]:
        app_id, secret = body.get("AppID"), body.get("AppSecret")
        app = self._fake.apps.get(app_id) if isinstance(app_id, str) else None
        with self._lock:
            if self._busy > 0:
                self._busy -= 1
                return 200, {"code": 1, "msg": "system busy", "data": {}}
        if app is None:
            return 200, {"code": 10003, "msg": "invalid param", "data": {}}
        if not isinstance(secret, str) or not secrets.compare_digest(secret, app.app_secret):
            return 200, {"code": 10014, "msg": "app secret invalid", "data": {}}
        ticket = secrets.token_urlsafe(16)
        with self._lock:
            now = self._fake.now()
            self._tickets = {t: v for t, v in self._tickets.items() if v[1] > now}
            self._tickets[ticket] = (app.app_id, now + TICKET_TTL)
            config = dict(self.config)
            service_id = next(self._service_ids)
        device_id = f"dev_{secrets.token_hex(6)}"
        url = f"ws://{host}{WS_PATH}?device_id={device_id}&service_id={service_id}&ticket={ticket}"
        return 200, {"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": config}}

    async def serve(self, websocket: WebSocket) -> None:
        ticket = websocket.query_params.get("ticket", "")
        service = websocket.query_params.get("service_id", "0")
        with self._lock:
            found = self._tickets.get(ticket)
        if found is None or found[1] <= self._fake.now() or not service.isdigit():
            await websocket.close(code=1008)  # before accept: the handshake answers 403
            return
        conn = _Conn(found[0], int(service), asyncio.get_running_loop())
        # registered before the handshake completes: a test that saw the client connect
        # can count and fault the connection at once
        with self._lock:
            self._conns.setdefault(conn.app_id, []).append(conn)
            stat = self._stat(conn.app_id)
            stat.connections += 1
            stat.connects += 1
            stat.max_connections = max(stat.max_connections, stat.connections)
            unacked = list(self._pending.get(conn.app_id, {}).values())
        for frames in unacked:  # Lark sends again what was never answered
            conn.outbox.put_nowait(frames)
        sender: asyncio.Task[None] | None = None
        try:
            await websocket.accept()
            sender = asyncio.create_task(self._send(websocket, conn))
            await self._receive(websocket, conn)
        finally:
            if sender is not None:
                sender.cancel()
            with self._lock:
                self._conns[conn.app_id].remove(conn)
                self._stat(conn.app_id).connections -= 1

    async def _send(self, websocket: WebSocket, conn: _Conn) -> None:
        try:
            while True:
                item = await conn.outbox.get()
                if item is _CLOSE:
                    await websocket.close(code=1011)
                    return
                if conn.half_open:
                    continue  # lost in a dead socket; still unacked, so sent again later
                for frame in item:
                    await websocket.send_bytes(encode_frame(frame))
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the client went away: what was unanswered is sent again later

    async def _receive(self, websocket: WebSocket, conn: _Conn) -> None:
        while True:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is None or conn.half_open:
                continue
            try:
                frame = decode_frame(data)
            except FrameError:
                continue
            if frame.method == METHOD_CONTROL and frame.type == TYPE_PING:
                with self._lock:
                    self._stat(conn.app_id).pings += 1
                    config = dict(self.config)
                if not conn.silent:
                    pong = Frame(
                        method=METHOD_CONTROL,
                        service=frame.service,
                        headers={HEADER_TYPE: TYPE_PONG},
                        payload=msgspec.json.encode(config),
                    )
                    conn.post([pong])
            elif frame.method == METHOD_DATA:
                self._record_answer(conn, frame)

    def _record_answer(self, conn: _Conn, frame: Frame) -> None:
        message_id = frame.headers.get(HEADER_MESSAGE_ID, "")
        with self._lock:
            if self._drop_on_ack.get(conn.app_id, 0) > 0:
                self._drop_on_ack[conn.app_id] -= 1
                conn.post(_CLOSE)  # the answer is lost with the socket
                return
            pending = self._pending.get(conn.app_id, {})
            if message_id not in pending:
                return  # an answer to a push answered before: Lark ignores it
            try:
                answer = msgspec.json.decode(frame.payload)
            except msgspec.DecodeError:
                answer = {}
            answer = answer if isinstance(answer, dict) else {}
            code = answer.get("code", 0)
            code = code if isinstance(code, int) else 0
            if code == 200:
                del pending[message_id]  # anything else: Lark delivers it again later
            self._acks.append(
                WsAck(
                    conn.app_id,
                    message_id,
                    code,
                    _decode_data(answer.get("data")),
                    frame.headers.get("biz_rt", ""),
                )
            )


def _as_bytes(event: bytes | str | dict[str, Any]) -> bytes:
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return event.encode()
    return msgspec.json.encode(event)


def _decode_data(data: Any) -> Any:
    if not isinstance(data, str) or not data:
        return None
    try:
        return msgspec.json.decode(base64.b64decode(data))
    except (ValueError, msgspec.DecodeError):
        return data


def register(fake: FakeLark) -> None:
    hub = FakeLongConnections(fake)
    fake.long_connections = hub
    fake.on_reset(hub.reset)
    fake.websocket_app = Router(routes=[WebSocketRoute(WS_PATH, hub.serve)])

    @fake.route("POST", ENDPOINT_PATH)
    async def endpoint(req: FakeRequest) -> HandlerResult:
        try:
            body = req.json() if req.body else {}
        except msgspec.DecodeError:
            body = {}
        host = req.headers.get("host", "127.0.0.1")
        return hub.discover(body if isinstance(body, dict) else {}, host)

    @fake.route("POST", "/_fake/ws/events")
    async def push(req: FakeRequest) -> HandlerResult:
        body = control_body(req)
        app_id, event = body.get("app_id"), body.get("event")
        if not isinstance(app_id, str) or not isinstance(event, dict | str):
            raise FakeLarkError(400, 9499, "Bad Request: app_id and event are required")
        try:
            message_id = hub.push_event(
                app_id,
                event,
                parts=int(body.get("parts", 1)),
                type=str(body.get("type", "event")),
            )
        except (KeyError, ValueError) as exc:
            raise FakeLarkError(400, 9499, f"Bad Request: {exc}") from None
        return {"message_id": message_id}

    @fake.route("POST", "/_fake/ws/faults")
    async def faults(req: FakeRequest) -> HandlerResult:
        body = control_body(req)
        app_id = body.get("app_id")
        try:
            hub.inject(
                str(body.get("kind")),
                app_id if isinstance(app_id, str) else None,
                count=int(body.get("count", 1)),
            )
        except ValueError as exc:
            raise FakeLarkError(400, 9499, f"Bad Request: {exc}") from None
        return {}

    @fake.route("POST", "/_fake/ws/config")
    async def config(req: FakeRequest) -> HandlerResult:
        try:
            hub.set_config(**{k: float(v) for k, v in control_body(req).items()})
        except (TypeError, ValueError) as exc:
            raise FakeLarkError(400, 9499, f"Bad Request: {exc}") from None
        return dict(hub.config)

    @fake.route("GET", "/_fake/ws/stats")
    async def stats(req: FakeRequest) -> HandlerResult:
        return {"apps": hub.stats()}
