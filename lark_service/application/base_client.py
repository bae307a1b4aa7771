"""`BaseServiceClient`: the one call path every client shares.

resolve app → get token → call the Lark transport → map errors → record metrics, all in
one ``client`` span of the pool's tracer (app id, API name, Lark's code and log id).
A rejected token (Lark's token-invalid codes) is dropped from the pool and the call is
made once more with a fresh token.

Every public method of a subclass is wrapped once, when the class is created: its arguments
are checked (`lark_service.application.clients.arguments`) before anything is sent, and the
call runs under a deadline, the method's ``timeout=`` or else the client's or the pool's
``call_timeout`` (token fetch, rate-limit waits and retries included), raising
`CallTimeoutError` when it expires. Nested calls (``send_text`` → ``send_message``) share the
outer deadline. Every path goes through `lark_service.domain.models.ids.check_path` last.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from lark_service.application.clients.arguments import compile_checks, is_checked, mark_checked
from lark_service.application.pool import CredentialPool
from lark_service.application.resolution import current_context_app
from lark_service.application.single_flight import FlightAbandoned
from lark_service.application.transport_discovery import load_default_transport
from lark_service.domain.apps import FEISHU_BASE_URL, AppConfig, resolve_base_url
from lark_service.domain.errors import (
    CallTimeoutError,
    ConfigError,
    LarkServiceError,
    ServerError,
    TokenInvalidError,
)
from lark_service.domain.models.ids import check_path, check_text
from lark_service.domain.ports.tracing import Span
from lark_service.domain.ports.transport import LarkTransport
from lark_service.domain.tokens import TokenKind
from lark_service.domain.wire import FormField, LarkReply, LarkRequest

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
_IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE", "HEAD"})
# True while a call of this task runs under a deadline: nested calls keep the outer one.
_under_deadline: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "lark_service_under_deadline", default=False
)
# The dedup uuid of the send made in this task's current call, for a `CallTimeoutError`.
send_uuid_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "lark_service_send_uuid", default=""
)


def note_send_uuid(uuid: str) -> None:
    """Remember ``uuid`` for the `CallTimeoutError` of this call, if it runs under a
    deadline: only then is it read, and each set copies the task's context (objects
    that 1,000 concurrent sends would each leave to the GC)."""
    if _under_deadline.get():
        send_uuid_var.set(uuid)


# A limiter slot granted at once takes microseconds; longer means the call was held back.
LIMITER_WAIT_FLOOR = 0.001
# An app's base URL by its domain: `AppConfig.base_url` parses a URL domain at every read.
_base_urls: dict[str, str] = {}
_BASE_URLS_MAX = 256  # domains are a handful per process; the bound only caps a misuse


def decode_data(raw: msgspec.Raw | bytes, type_: type[T], *, api: str = "", app_id: str = "") -> T:
    """Decode Lark's ``data`` into ``type_``; unknown fields are ignored, bad types raise."""
    decoder = _decoders.get(type_)
    if decoder is None:
        decoder = _decoders[type_] = msgspec.json.Decoder(type_)
    try:
        return decoder.decode(raw)  # type: ignore[no-any-return]
    except msgspec.DecodeError as exc:
        raise ServerError(
            f"unexpected reply from Lark: {exc}", api=api, app_id=app_id, code=-2
        ) from None


def encode_json(value: Any) -> bytes:
    """Encode a request body (Structs, dicts, lists) with the shared encoder; a value JSON
    cannot hold (a lone surrogate, an object) is a `ConfigError`."""
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError, UnicodeError) as exc:
        raise ConfigError(f"the request body cannot be encoded as JSON: {exc}") from None


class BaseServiceClient:
    """Shared call path; subclasses add Lark's endpoints as typed methods.

    ``BaseServiceClient(pool, app_id=None)`` resolves apps through the pool;
    ``BaseServiceClient(access_token="t-...", base_url=None)`` calls with a fixed token
    and no pool (backward compatibility); such a client has no apps to choose from, so
    ``app_id=`` and ``use_app()`` are a `ConfigError` there.
    ``call_timeout`` (seconds) bounds each call of this client; default: the pool's
    ``call_timeout`` (``None``: no deadline beyond the transport's own).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in dir(cls):
            if name.startswith("_"):
                continue
            func = inspect.getattr_static(cls, name)
            if not inspect.isfunction(func) or is_checked(func) or name == "aclose":
                continue
            if inspect.isasyncgenfunction(func):
                setattr(cls, name, _checked_iterator(func))
            elif inspect.iscoroutinefunction(func):
                setattr(cls, name, _checked_call(func))

    def __init__(
        self,
        pool: CredentialPool | None = None,
        *,
        app_id: str | None = None,
        access_token: str | None = None,
        base_url: str | None = None,
        transport: LarkTransport | None = None,
        call_timeout: float | None = None,
    ) -> None:
        if pool is None and access_token is None:
            raise ConfigError("give a CredentialPool or an access_token")
        if pool is not None and not isinstance(pool, CredentialPool):
            raise ConfigError(f"pool must be a CredentialPool, not {type(pool).__name__}")
        if access_token is not None:
            if pool is not None:
                raise ConfigError("give a CredentialPool or an access_token, not both")
            if not isinstance(access_token, str) or not access_token.strip():
                raise ConfigError("access_token must be a non-empty str")
            if app_id is not None:
                raise ConfigError(
                    "app_id= has no effect on a client with a fixed access_token: the token "
                    "decides the app; use a CredentialPool to choose among apps"
                )
        if app_id is not None:
            compile_checks(_app_id_only)((), {"app_id": app_id})
        if base_url is not None:
            try:
                base_url = resolve_base_url(base_url)
            except ConfigError as exc:
                raise ConfigError(f"base_url: {exc.msg}") from None
        if call_timeout is not None and (
            isinstance(call_timeout, bool)
            or not isinstance(call_timeout, (int, float))
            or not call_timeout > 0
        ):
            raise ConfigError(f"call_timeout must be a positive number, not {call_timeout!r}")
        self.call_timeout = call_timeout
        self.pool = pool
        self.app_id = app_id
        self._access_token = access_token
        self._base_url = (base_url or FEISHU_BASE_URL).rstrip("/")
        if transport is not None:
            self._transport = transport
        elif pool is not None:
            self._transport = pool.transport
        else:
            self._transport = load_default_transport()
        self._owns_transport = pool is None and transport is None

    def __repr__(self) -> str:
        mode = "pool" if self.pool is not None else "access_token='***'"
        return f"{type(self).__name__}({mode}, app_id={self.app_id!r})"

    async def aclose(self) -> None:
        """Close the transport this client created for itself (bare-token mode)."""
        if self._owns_transport:
            await self._transport.aclose()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def resolve_app(self, app_id: str | None = None) -> AppConfig:
        """The app a call with ``app_id=`` would be made as."""
        if self.pool is None:
            raise ConfigError("this client has a fixed access_token and no pool of apps")
        return self.pool.resolve(app_id, self.app_id)

    def _deadline(self, timeout: float | None) -> float | None:
        if timeout is not None:
            return timeout
        if self.call_timeout is not None:
            return self.call_timeout
        pooled = getattr(self.pool, "call_timeout", None)
        return pooled if isinstance(pooled, (int, float)) else None

    def _call(self, method: str, path: str, **kw: Any) -> Coroutine[Any, Any, LarkReply]:
        """Make one call (see `_exchange` for the keywords)."""
        return self._exchange(None, method, path, **kw)

    def _call_data(
        self, type_: type[T], method: str, path: str, **kw: Any
    ) -> Coroutine[Any, Any, T]:
        """Make a call and decode its ``data`` into ``type_``."""
        return self._exchange(type_, method, path, **kw)

    async def _exchange(
        self,
        decode: type[Any] | None,
        method: str,
        path: str,
        *,
        api: str,
        app_id: str | None = None,
        query: Mapping[str, Any] | Sequence[tuple[str, str]] | None = None,
        json: Any = None,
        form: list[FormField] | None = None,
        token_kind: TokenKind = TokenKind.TENANT,
        user_id: str | None = None,
        tenant_key: str = "",
        idempotent: bool | None = None,
        binary: bool = False,
        rate_family: str | None = None,
        rate_subject: str | None = None,
        uuid: str | None = None,
    ) -> Any:
        """Make one call: its reply, or with ``decode`` its ``data`` decoded into that type.
        ``rate_family`` (a key of ``DEFAULT_LIMITS``) shapes it client-side; ``rate_subject``
        (a receiver id) applies the family's per-subject limit; ``uuid`` (a send's dedup
        uuid) is put on its error, since its outcome may be unknown.

        `_call` and `_call_data` hand out this coroutine itself rather than awaiting it in
        one of their own: a send waiting for a first token then holds one coroutine fewer
        (issue 8 item 12)."""
        request = LarkRequest(
            method=method,
            base_url=self._base_url,
            path=check_path(path),
            api=api,
            query=_query_pairs(query),
            body=None if json is None else encode_json(json),
            form=form,
            idempotent=method in _IDEMPOTENT_METHODS if idempotent is None else idempotent,
            binary=binary,
        )
        pool = self.pool
        if pool is None:
            if app_id is not None or current_context_app() is not None:
                raise ConfigError(
                    "this client has a fixed access_token: app_id= and use_app() cannot "
                    "choose another app; use a client over a CredentialPool",
                    api=api,
                )
            request.token = self._access_token
            try:
                reply = await self._transport.call(request)
            except LarkServiceError as exc:
                if uuid is not None:
                    exc.uuid = uuid
                raise
            return reply if decode is None else decode_data(reply.data, decode, api=api)
        app = pool.resolve(app_id, self.app_id)
        request.app_id = app.app_id
        request.base_url = _base_url(app)
        metrics = pool.metrics
        started = time.perf_counter()
        outcome = "ok"
        tracer = pool.tracer
        attributes = (
            {"lark.app_id": app.app_id, "lark.api": api, "http.request.method": method}
            if tracer.enabled
            else None  # kept by every waiting call: 1,000 of them wait for a first token
        )
        with tracer.span(api, attributes, kind="client") as span:
            try:
                for attempt in range(2):  # a range iterator is not tracked by the GC
                    if user_id is not None:
                        token = await pool.user_access_token(app, user_id)
                    else:
                        # the cached token, or a join of the fetch in flight, with no
                        # coroutine around the wait (see `CredentialPool.token_or_flight`)
                        found = pool.token_or_flight(app, token_kind, tenant_key)
                        if isinstance(found, str):
                            token = found
                        elif found is None:
                            token = await pool.get_token(app, token_kind, tenant_key)
                        else:
                            try:
                                token = (await found).value
                            except FlightAbandoned:
                                token = await pool.get_token(app, token_kind, tenant_key)
                    if rate_family is not None and not attempt:
                        # after the token: a slot is booked as close to sending as possible
                        # the loop's clock: the one the limiter's sleeps run on
                        loop_time = asyncio.get_running_loop().time
                        booked = loop_time()
                        await pool.limiter.acquire(app.app_id, rate_family, rate_subject)
                        if (waited := loop_time() - booked) > LIMITER_WAIT_FLOOR:
                            metrics.limiter_wait(
                                app_id=app.app_id, family=rate_family, seconds=waited
                            )
                    request.token = token
                    try:
                        reply = await self._transport.call(request)
                    except TokenInvalidError:
                        if attempt:
                            raise
                        metrics.retry(app_id=app.app_id, api=api, reason="token_invalid")
                        if user_id is not None:
                            pool.invalidate_user(app.app_id, user_id, token)
                        else:
                            pool.invalidate(app.app_id, token_kind, tenant_key, token)
                    else:
                        _note_reply(span, reply.code, reply.log_id)
                        if decode is None:
                            return reply
                        return decode_data(reply.data, decode, api=api, app_id=app.app_id)
                raise AssertionError("unreachable")  # pragma: no cover
            except LarkServiceError as exc:
                exc.app_id = exc.app_id or app.app_id
                exc.api = exc.api or api
                if uuid is not None:
                    exc.uuid = uuid
                outcome = type(exc).__name__
                _note_reply(span, exc.code, exc.log_id)
                raise
            finally:
                metrics.api_call(
                    app_id=app.app_id,
                    api=api,
                    outcome=outcome,
                    seconds=time.perf_counter() - started,
                )


def _app_id_only(self: object, app_id: str) -> None: ...


def _base_url(app: AppConfig) -> str:
    url = _base_urls.get(app.domain)
    if url is None:
        if len(_base_urls) >= _BASE_URLS_MAX:
            _base_urls.clear()
        url = _base_urls[app.domain] = app.base_url
    return url


def _note_reply(span: Span, code: int, log_id: str) -> None:
    span.set_attribute("lark.code", code)
    if log_id:  # Lark's request id, what its support asks for
        span.set_attribute("lark.log_id", log_id)


def _checked_call(func: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., Any]:
    check = compile_checks(func)

    async def call(self: BaseServiceClient, *args: Any, **kwargs: Any) -> T:
        check(args, kwargs)
        timeout = kwargs.pop("timeout", None)
        if timeout is None and _under_deadline.get():
            return await func(self, *args, **kwargs)
        budget = self._deadline(timeout)
        if budget is None:
            return await func(self, *args, **kwargs)
        marker = _under_deadline.set(True)
        uuid_marker = send_uuid_var.set("")
        try:
            async with asyncio.timeout(budget) as scope:
                return await func(self, *args, **kwargs)
        except TimeoutError:
            if not scope.expired():
                raise
            error = CallTimeoutError(
                f"no reply within the {budget:g} s deadline",
                api=func.__name__,
                app_id=kwargs.get("app_id") or "",
            )
            error.uuid = send_uuid_var.get()
            raise error from None
        finally:
            send_uuid_var.reset(uuid_marker)
            _under_deadline.reset(marker)

    return mark_checked(call, func)


def _checked_iterator(func: Callable[..., AsyncIterator[T]]) -> Callable[..., Any]:
    check = compile_checks(func)

    def iterate(self: BaseServiceClient, *args: Any, **kwargs: Any) -> AsyncIterator[T]:
        check(args, kwargs)
        return func(self, *args, **kwargs)

    return mark_checked(iterate, func)


def _query_pairs(
    query: Mapping[str, Any] | Sequence[tuple[str, str]] | None,
) -> Sequence[tuple[str, str]] | None:
    if not query:
        return None
    if type(query) is tuple and len(query) == 1:  # one (name, str) pair: the common case
        pair = query[0]
        if type(pair) is tuple and len(pair) == 2 and type(pair[1]) is str:
            check_text(pair[1], pair[0])
            return query  # a tuple: nothing to copy, and a send's own query is built once
    items = query.items() if isinstance(query, Mapping) else query
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((key, _scalar(key, v)) for v in value)
        else:
            pairs.append((key, _scalar(key, value)))
    return pairs


def _scalar(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return check_text(value, key)
    if isinstance(value, (int, float)):
        return str(value)
    raise ConfigError(f"{key} must be a str or a number, not {type(value).__name__}")
