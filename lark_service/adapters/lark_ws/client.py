"""`LongConnection`: one app's WebSocket to Lark, kept open until `stop`.

The protocol (lark-api-reference.md §7, "Long connection"):

* **connect**: discover the endpoint (`discover_endpoint`), dial its ``wss`` URL;
* **heartbeat**: a control frame ``type=ping`` (``service`` = the URL's service_id) every
  ``PingInterval``; a ``pong`` may carry a new ``ClientConfig``, which is applied;
* **data**: frames ``type=event`` (events and ``card.action.trigger``) or ``type=card``
  carry the plaintext JSON of a push, split into ``sum`` parts when large (`Reassembler`).
  Each push goes through `parse_event` to ``deliver`` (the service passes
  ``EventIntake.accept``: the webhook's dedup, tickets, card handlers and bus), and is
  answered on the same frame, with a ``biz_rt`` header and the payload ``{"code": 200,
  "headers": {}, "data": base64(JSON of deliver's reply)}``; 500 when ``deliver`` failed (so
  Lark sends it again), 400 when the payload is not a Lark push (it never will be one);
* **liveness**: no pong for ``missed_pongs`` ping intervals means the socket is dead even if
  TCP says otherwise (a half-open socket): it is aborted and dialled again;
* **reconnect**: after a drop, wait a random part of ``ReconnectNonce`` (so replicas and
  apps do not stampede), then attempt discovery + dial with exponential backoff and jitter
  from ``min_backoff`` up to ``ReconnectInterval`` (tenacity drives it), at most
  ``ReconnectCount`` attempts (−1: forever). Lark refusing the app itself (a wrong secret,
  a 403 handshake, too many connections) is an `AuthError` and ends `run`.

`stop` is graceful: no new frames are read, pushes being handled finish and are answered
(within ``drain_timeout``), the socket is closed with 1000.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import tenacity
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from lark_service.adapters.lark_ws.endpoint import ClientConfig, Endpoint, discover_endpoint
from lark_service.adapters.lark_ws.frames import (
    HEADER_BIZ_RT,
    HEADER_MESSAGE_ID,
    HEADER_SEQ,
    HEADER_SUM,
    METHOD_CONTROL,
    METHOD_DATA,
    TYPE_CARD,
    TYPE_EVENT,
    TYPE_PONG,
    Frame,
    FrameError,
    decode_frame,
    encode_frame,
    ping_frame,
)
from lark_service.adapters.lark_ws.reassembly import DEFAULT_PART_TTL, Reassembler
from lark_service.domain.errors import AuthError, LarkServiceError, ServerError, TransportError
from lark_service.domain.events import (
    EventInProgressError,
    EventRejectedError,
    LarkEvent,
    parse_event,
)

__all__ = ["Deliver", "LongConnection", "LongConnectionOptions"]

log = logging.getLogger("lark_service.long_connection")

# Where pushes go: ``(app_id, event) -> reply`` (``EventIntake.accept``); raising means
# "not handled" and answers 500.
Deliver = Callable[[str, LarkEvent], Awaitable[dict[str, Any]]]

_EXCEED_CONN_LIMIT = "1000040350"
_FORBIDDEN, _AUTH_FAILED = 403, 514


@dataclass(frozen=True, slots=True, kw_only=True)
class LongConnectionOptions:
    """Client-side limits; Lark's ``ClientConfig`` (``config`` until it says otherwise) sets
    the ping interval and the reconnect schedule."""

    config: ClientConfig = field(default_factory=ClientConfig)
    missed_pongs: float = 2.0  # ping intervals without a pong before the socket is dead
    min_backoff: float = 1.0  # the first backoff step after a failed attempt
    discovery_timeout: float = 10.0
    open_timeout: float = 10.0
    close_timeout: float = 5.0
    drain_timeout: float = 5.0  # stop(): how long pushes being handled may still take
    deliver_timeout: float = 30.0  # a push not handled by then is answered 500
    part_ttl: float = DEFAULT_PART_TTL
    max_frame: int = 16 * 1024 * 1024
    # WebSocket-level keepalive as well (as Lark's SDKs have it); None: Lark's pings only
    protocol_ping_interval: float | None = 20.0


class _Stopped(Exception):
    """Raised inside a connect attempt once stop() was called."""


class LongConnection:
    """Receives one app's events and card callbacks over Lark's long connection."""

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        base_url: str,
        deliver: Deliver,
        options: LongConnectionOptions | None = None,
    ) -> None:
        self.app_id = app_id
        self._app_secret = app_secret
        self._base_url = base_url.rstrip("/")
        self._deliver = deliver
        self.options = options or LongConnectionOptions()
        self.config = self.options.config
        self.connects = 0  # successful dials, the first included
        self.handled = 0  # pushes answered 200
        # one run per instance: stop() before run() makes run() return at once
        self._stopping = asyncio.Event()
        self._running = False
        self._done = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._grace: float | None = None  # stop(grace=...): the bound on draining + closing
        self._socket: ClientConnection | None = None
        self._connected = asyncio.Event()

    def __repr__(self) -> str:
        return f"LongConnection(app_id={self.app_id!r}, base_url={self._base_url!r})"

    @property
    def connected(self) -> asyncio.Event:
        """Set while a socket is open (tests and health checks wait on it)."""
        return self._connected

    async def run(self) -> None:
        """Connect and serve until `stop`; reconnects on its own. Raises `AuthError` when
        Lark refuses the app and the last error after ``ReconnectCount`` failed attempts."""
        if self._running:
            raise RuntimeError(f"{self!r} is already running")
        self._running = True
        try:
            first = True
            while not self._stopping.is_set():
                if not first:
                    await self._pause(random.uniform(0, self.config.reconnect_nonce))  # noqa: S311  # nosec B311 - jitter
                first = False
                dialled = await self._dial()
                if dialled is None:
                    break
                await self._serve(*dialled)
        finally:
            self._connected.clear()
            self._running = False
            self._done.set()

    async def stop(self, *, grace: float | None = None) -> None:
        """Stop reading, answer the pushes being handled, close; returns once `run` ended.

        ``grace`` bounds the draining and closing (``drain_timeout`` + ``close_timeout`` by
        default); past it, pushes still being handled are cancelled (unanswered: Lark sends
        them again) and the socket is dropped. A replica losing its lease passes what is
        left of it, so the next holder never overlaps.
        """
        limit = self.options.drain_timeout + self.options.close_timeout
        if grace is not None:
            self._grace = limit = max(0.0, min(limit, grace))
        self._stopping.set()
        if not self._running:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                await self._done.wait()
        if not self._done.is_set():
            # the bound passed while closing (the handshake is dropped too), or a dial is
            # under way (it ends within its own timeouts and then sees the stop)
            self._abort()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(
                    self.options.discovery_timeout + self.options.open_timeout
                ):
                    await self._done.wait()

    # connecting ------------------------------------------------------------------------
    async def _dial(self) -> tuple[ClientConnection, Endpoint] | None:
        count = self.config.reconnect_count
        retrying = tenacity.AsyncRetrying(
            wait=tenacity.wait_exponential_jitter(
                multiplier=self.options.min_backoff,
                max=max(self.options.min_backoff, self.config.reconnect_interval),
                jitter=self.options.min_backoff,
            ),
            stop=tenacity.stop_after_attempt(max(1, count)) if count >= 0 else tenacity.stop_never,
            retry=tenacity.retry_if_exception_type((TransportError, ServerError)),
            sleep=self._pause,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._dial_once()
        except _Stopped:
            return None
        raise AssertionError("unreachable")  # pragma: no cover - tenacity returns or raises

    async def _dial_once(self) -> tuple[ClientConnection, Endpoint]:
        if self._stopping.is_set():
            raise _Stopped
        endpoint = await discover_endpoint(
            self._base_url,
            self.app_id,
            self._app_secret,
            deadline=self.options.discovery_timeout,
            defaults=self.config,
        )
        self.config = endpoint.config
        try:
            ws = await connect(
                endpoint.url,
                open_timeout=self.options.open_timeout,
                close_timeout=self.options.close_timeout,
                ping_interval=self.options.protocol_ping_interval,
                ping_timeout=self.options.protocol_ping_interval,
                max_size=self.options.max_frame,
                compression=None,
                proxy=None,
            )
        except InvalidStatus as exc:
            raise _handshake_error(exc, self.app_id) from None
        except (WebSocketException, OSError, TimeoutError) as exc:
            raise TransportError(
                f"long connection: dialling failed ({type(exc).__name__})", app_id=self.app_id
            ) from None
        if self._stopping.is_set():
            await ws.close()
            raise _Stopped
        self.connects += 1
        log.info("long connection of %s open (device %s)", self.app_id, endpoint.device_id)
        return ws, endpoint

    async def _log_retry(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "long connection of %s: attempt %d failed (%s); next in %.1f s",
            self.app_id,
            state.attempt_number,
            error,
            wait,
        )

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless stop() is called first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    # serving one socket ----------------------------------------------------------------
    async def _serve(self, ws: ClientConnection, endpoint: Endpoint) -> None:
        self._socket = ws
        self._connected.set()
        loop = asyncio.get_running_loop()
        last_pong = [loop.time()]
        reader = asyncio.create_task(self._read(ws, last_pong))
        heart = asyncio.create_task(self._heartbeat(ws, endpoint.service_id, last_pong))
        stop = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({reader, heart, stop}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            ws.transport.abort()  # cancelled (like a crash): no closing handshake
            raise
        finally:
            self._connected.clear()
            for task in (reader, heart, stop):
                task.cancel()
            outcomes = await asyncio.gather(reader, heart, stop, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):  # a bug, not the network: keep it visible
                log.error("long connection of %s failed", self.app_id, exc_info=outcome)
        if self._stopping.is_set():
            await self._close_gracefully(ws)
            return
        if heart.done() and not heart.cancelled() and heart.result():
            log.warning("long connection of %s: no pong; dropping the socket", self.app_id)
            ws.transport.abort()  # a half-open socket never completes a closing handshake
        else:
            log.warning("long connection of %s dropped (%s)", self.app_id, ws.close_code)
            with contextlib.suppress(ConnectionClosed, OSError):
                await ws.close()

    async def _close_gracefully(self, ws: ClientConnection) -> None:
        grace = self.options.drain_timeout + self.options.close_timeout
        if self._grace is not None:
            grace = self._grace
        deadline = asyncio.get_running_loop().time() + grace
        if self._inflight:
            drain = min(self.options.drain_timeout, grace)
            _, pending = await asyncio.wait(set(self._inflight), timeout=drain)
            for task in pending:
                task.cancel()
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(max(0.0, remaining)):
                await ws.close(1000, "client stopped")
        except TimeoutError:
            ws.transport.abort()
        except (ConnectionClosed, OSError):
            pass
        log.info("long connection of %s closed (stopped)", self.app_id)

    def _abort(self) -> None:
        if self._socket is not None:
            self._socket.transport.abort()

    async def _heartbeat(
        self, ws: ClientConnection, service_id: int, last_pong: list[float]
    ) -> bool:
        """Ping every interval; returns True when the pongs stopped (the socket is dead)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            interval = self.config.ping_interval
            try:
                async with asyncio.timeout(interval):
                    await ws.send(encode_frame(ping_frame(service_id)))
            except TimeoutError:
                pass  # a full send buffer: the watchdog below decides
            except ConnectionClosed:
                return False
            await asyncio.sleep(interval)
            silent = loop.time() - max(last_pong[0], started)
            if silent > interval * self.options.missed_pongs:
                return True

    async def _read(self, ws: ClientConnection, last_pong: list[float]) -> None:
        loop = asyncio.get_running_loop()
        parts = Reassembler(ttl=self.options.part_ttl, now=time.monotonic)
        try:
            async for message in ws:
                if isinstance(message, str):
                    continue  # Lark sends binary frames only
                try:
                    frame = decode_frame(message)
                    if frame.method == METHOD_CONTROL:
                        if frame.type == TYPE_PONG:
                            last_pong[0] = loop.time()
                            self._configure(frame.payload)
                    elif frame.method == METHOD_DATA:
                        self._receive(ws, frame, parts)
                except FrameError as exc:
                    log.warning("long connection of %s: %s", self.app_id, exc)
        except ConnectionClosed:
            return

    def _configure(self, payload: bytes) -> None:
        if not payload:
            return
        with contextlib.suppress(msgspec.DecodeError):
            self.config = self.config.merged(msgspec.json.decode(payload))

    def _receive(self, ws: ClientConnection, frame: Frame, parts: Reassembler) -> None:
        total, seq = frame.header_int(HEADER_SUM, 1), frame.header_int(HEADER_SEQ, 0)
        payload = parts.add(frame.headers.get(HEADER_MESSAGE_ID, ""), total, seq, frame.payload)
        if payload is None:
            return
        task = asyncio.create_task(self._handle(ws, frame, payload))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _handle(self, ws: ClientConnection, frame: Frame, payload: bytes) -> None:
        started = time.monotonic()
        code, reply = 200, None
        try:
            if frame.type in (TYPE_EVENT, TYPE_CARD):
                event = parse_event(payload)
                async with asyncio.timeout(self.options.deliver_timeout):
                    reply = await self._deliver(self.app_id, event)
            else:
                log.info("long connection of %s: ignored a %r frame", self.app_id, frame.type)
        except EventInProgressError as exc:
            code = 503  # not handled here: Lark sends it again
            log.info("long connection of %s: %s", self.app_id, exc.msg)
        except EventRejectedError as exc:
            code = 400
            log.warning("long connection of %s: refused a push: %s", self.app_id, exc.msg)
        except TimeoutError:
            code = 500
            log.warning("long connection of %s: a push took too long", self.app_id)
        except Exception:
            code = 500
            log.exception("long connection of %s: handling a push failed", self.app_id)
        if code == 200:
            self.handled += 1
        elapsed_ms = int((time.monotonic() - started) * 1000)
        answer: dict[str, Any] = {"code": code, "headers": {}}
        if reply is not None:
            answer["data"] = base64.b64encode(msgspec.json.encode(reply)).decode("ascii")
        ack = Frame(
            method=frame.method,
            service=frame.service,
            seq_id=frame.seq_id,
            log_id=frame.log_id,
            headers={**frame.headers, HEADER_BIZ_RT: str(elapsed_ms)},
            payload=msgspec.json.encode(answer),
            payload_encoding=frame.payload_encoding,
            payload_type=frame.payload_type,
            log_id_new=frame.log_id_new,
        )
        try:
            await ws.send(encode_frame(ack))
        except ConnectionClosed:
            # Lark sends the push again on the next connection; the dedup drops it there
            log.info("long connection of %s: the answer to a push was lost", self.app_id)


def _handshake_error(exc: InvalidStatus, app_id: str) -> LarkServiceError:
    headers = exc.response.headers
    status = headers.get("handshake-status", "")
    message = headers.get("handshake-msg", "")[:200] or f"HTTP {exc.response.status_code}"
    auth_code = headers.get("handshake-autherrcode", "")
    refused = status == str(_FORBIDDEN) or (
        status == str(_AUTH_FAILED) and auth_code == _EXCEED_CONN_LIMIT
    )
    error = AuthError if refused else ServerError
    code = int(status) if status.isdigit() else None
    return error(
        f"long connection: handshake refused: {message}",
        code=code,
        http_status=exc.response.status_code,
        app_id=app_id,
    )
