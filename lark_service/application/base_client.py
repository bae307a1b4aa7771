"""`BaseServiceClient`: the one call path every client shares.

resolve app → get token → call the Lark transport → map errors → record metrics.
A rejected token (Lark's token-invalid codes) is dropped from the pool and the call is
made once more with a fresh token.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from lark_service.application.pool import CredentialPool
from lark_service.application.transport_discovery import load_default_transport
from lark_service.domain.apps import FEISHU_BASE_URL, AppConfig
from lark_service.domain.errors import ConfigError, LarkServiceError, ServerError, TokenInvalidError
from lark_service.domain.ports.transport import LarkTransport
from lark_service.domain.tokens import TokenKind
from lark_service.domain.wire import FormField, LarkReply, LarkRequest

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
_IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE", "HEAD"})
# A limiter slot granted at once takes microseconds; longer means the call was held back.
LIMITER_WAIT_FLOOR = 0.001


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
    """Encode a request body (Structs, dicts, lists) with the shared encoder."""
    return _encoder.encode(value)


class BaseServiceClient:
    """Shared call path; subclasses add Lark's endpoints as typed methods.

    ``BaseServiceClient(pool, app_id=None)`` resolves apps through the pool;
    ``BaseServiceClient(access_token="t-...", base_url=None)`` calls with a fixed token
    and no pool (backward compatibility).
    """

    def __init__(
        self,
        pool: CredentialPool | None = None,
        *,
        app_id: str | None = None,
        access_token: str | None = None,
        base_url: str | None = None,
        transport: LarkTransport | None = None,
    ) -> None:
        if pool is None and access_token is None:
            raise ConfigError("give a CredentialPool or an access_token")
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

    async def _call(
        self,
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
    ) -> LarkReply:
        """Make one call. ``rate_family`` (a key of ``DEFAULT_LIMITS``) shapes it client-side;
        ``rate_subject`` (a receiver id) applies the family's per-subject limit."""
        request = LarkRequest(
            method=method,
            base_url=self._base_url,
            path=path,
            api=api,
            query=_query_pairs(query),
            body=None if json is None else _encoder.encode(json),
            form=form,
            idempotent=method in _IDEMPOTENT_METHODS if idempotent is None else idempotent,
            binary=binary,
        )
        pool = self.pool
        if pool is None:
            request.token = self._access_token
            return await self._transport.call(request)
        app = pool.resolve(app_id, self.app_id)
        request.app_id = app.app_id
        request.base_url = app.base_url
        metrics = pool.metrics
        started = time.perf_counter()
        outcome = "ok"
        try:
            for attempt in (0, 1):
                if user_id is not None:
                    token = await pool.user_access_token(app, user_id)
                else:
                    token = await pool.get_token(app, token_kind, tenant_key)
                if rate_family is not None and not attempt:
                    # after the token: a slot is booked as close to sending as possible
                    booked = time.perf_counter()
                    await pool.limiter.acquire(app.app_id, rate_family, rate_subject)
                    if (waited := time.perf_counter() - booked) > LIMITER_WAIT_FLOOR:
                        metrics.limiter_wait(app_id=app.app_id, family=rate_family, seconds=waited)
                request.token = token
                try:
                    return await self._transport.call(request)
                except TokenInvalidError:
                    if attempt:
                        raise
                    metrics.retry(app_id=app.app_id, api=api, reason="token_invalid")
                    if user_id is not None:
                        pool.invalidate_user(app.app_id, user_id, token)
                    else:
                        pool.invalidate(app.app_id, token_kind, tenant_key, token)
            raise AssertionError("unreachable")  # pragma: no cover
        except LarkServiceError as exc:
            exc.app_id = exc.app_id or app.app_id
            exc.api = exc.api or api
            outcome = type(exc).__name__
            raise
        finally:
            metrics.api_call(
                app_id=app.app_id, api=api, outcome=outcome, seconds=time.perf_counter() - started
            )

    async def _call_data(self, type_: type[T], method: str, path: str, **kw: Any) -> T:
        """Make a call and decode its ``data`` into ``type_``."""
        reply = await self._call(method, path, **kw)
        return decode_data(reply.data, type_, api=kw.get("api", ""))


def _query_pairs(
    query: Mapping[str, Any] | Sequence[tuple[str, str]] | None,
) -> list[tuple[str, str]] | None:
    if not query:
        return None
    items = query.items() if isinstance(query, Mapping) else query
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((key, _scalar(v)) for v in value)
        else:
            pairs.append((key, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
