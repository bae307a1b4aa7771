"""`CredentialPool`: every app's credentials and fresh tokens, in one place.

Tokens are cached per (app, kind, tenant_key). A cached token serves until ``refresh_ahead``
seconds before expiry; from then on it keeps serving while one background task fetches the
next (Lark re-issues a token only in the last 30 minutes of its life, so the default margin
of 5 minutes lands inside that window). Missing tokens are fetched single-flight.

The store sits behind the cache: a miss first reads the store (a restarted replica reuses
stored tokens), and a fetch takes the store's refresh lock so replicas fetch once between
them. If the store fails, the pool logs a warning and fetches directly: serving calls
matters more than sharing tokens.

A failed fetch is logged once and backs off per token key (exponential, with jitter; see
``refresh_backoff``): meanwhile a cached token serves until it actually expires, and
callers without one get the last typed error at once instead of another request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine, Iterable
from types import TracebackType

from lark_service.application.manager import ApplicationManager
from lark_service.application.rate_limit import RateLimiter
from lark_service.application.refresh_backoff import RefreshBackoff
from lark_service.application.resolution import AppResolver
from lark_service.application.single_flight import FlightAbandoned, SingleFlight
from lark_service.application.user_tokens import UserTokenMixin
from lark_service.domain.apps import AppConfig
from lark_service.domain.errors import (
    AuthError,
    ConfigError,
    LarkServiceError,
    StoreError,
    UnknownAppError,
)
from lark_service.domain.ports.app_tickets import AppTicketStore
from lark_service.domain.ports.apps import AppStore
from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.credentials import CredentialStores
from lark_service.domain.ports.metrics import Metrics, TokenExpiry
from lark_service.domain.ports.token_issuer import TokenIssuer
from lark_service.domain.ports.tokens import TokenStore
from lark_service.domain.ports.tracing import NullTracer, Tracer
from lark_service.domain.ports.transport import LarkTransport
from lark_service.domain.ports.user_grants import UserGrantStore
from lark_service.domain.tokens import AccessToken, TokenKey, TokenKind, UserToken

log = logging.getLogger("lark_service.pool")

_CacheKey = tuple[str, TokenKind, str]

DEFAULT_REFRESH_AHEAD = 300.0  # seconds: inside the last 30 minutes, when Lark re-issues


class CredentialPool(UserTokenMixin):
    """Holds apps and their tokens; hands out a valid token for any app in microseconds.

    The stores, the transport and the issuer belong to whoever built the pool (the
    composition root opens and closes them); the pool only stops its own background work.
    """

    def __init__(
        self,
        *,
        app_store: AppStore,
        token_store: TokenStore,
        ticket_store: AppTicketStore,
        grant_store: UserGrantStore,
        issuer: TokenIssuer,
        transport: LarkTransport,
        clock: Clock,
        metrics: Metrics,
        apps: Iterable[AppConfig] = (),
        default_app_id: str | None = None,
        refresh_ahead: float = DEFAULT_REFRESH_AHEAD,
        min_remaining: float = 30.0,
        limiter: RateLimiter | None = None,
        call_timeout: float | None = None,
        jitter: Callable[[], float] | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        """``jitter`` returns a number in [0, 1) that spreads refresh retries (default:
        ``random.random``; tests pass a constant)."""
        if refresh_ahead <= min_remaining:
            raise ConfigError("refresh_ahead must be larger than min_remaining")
        self.app_store = app_store
        self.token_store = token_store
        self.ticket_store = ticket_store
        self.grant_store = grant_store
        self.issuer = issuer
        self.transport = transport
        self.clock = clock
        self.metrics = metrics
        metrics.watch_token_expiry(self.token_expiries)
        # spans of the Lark calls made through this pool (BaseServiceClient) and of send jobs
        self.tracer: Tracer = tracer if tracer is not None else NullTracer()
        self.refresh_ahead = refresh_ahead
        self.min_remaining = min_remaining
        self.limiter = limiter if limiter is not None else RateLimiter()
        metrics.watch_limiter(self.limiter.counts)
        # the default deadline (seconds) of each client call made through this pool; a
        # call's ``timeout=`` and a client's ``call_timeout=`` take precedence
        self.call_timeout = call_timeout
        self._apps: dict[str, AppConfig] = {}
        self._initial_apps = list(apps)
        self._tokens: dict[_CacheKey, AccessToken] = {}
        self._user_tokens: dict[tuple[str, str], UserToken] = {}
        self._rejected: set[str] = set()
        self._backoff: dict[_CacheKey, RefreshBackoff] = {}
        # Not for security: only spreads retries in time.
        self._jitter = jitter if jitter is not None else random.random  # nosec B311
        self._flights: SingleFlight[AccessToken] = SingleFlight()
        # bound once: each waiter of a fetch would otherwise allocate its own bound method
        self._obtain_missing = self._obtain
        self._user_flights: SingleFlight[UserToken] = SingleFlight()
        self._background: set[asyncio.Task[object]] = set()
        self.apps = ApplicationManager(
            self._apps, app_store=app_store, token_store=token_store, tokens=self
        )
        self.resolver = AppResolver(
            self._apps, default_app_id=default_app_id, auto_detect=self.apps.auto_detect
        )
        for app in self._initial_apps:
            self.apps.register(app)

    @classmethod
    def from_stores(
        cls,
        stores: CredentialStores,
        *,
        issuer: TokenIssuer,
        transport: LarkTransport,
        clock: Clock,
        metrics: Metrics,
        apps: Iterable[AppConfig] = (),
        default_app_id: str | None = None,
        refresh_ahead: float = DEFAULT_REFRESH_AHEAD,
        limiter: RateLimiter | None = None,
        tracer: Tracer | None = None,
    ) -> CredentialPool:
        """A pool on the stores of one backend, as an adapter bundles them.

        How the composition root (`entrypoints.bootstrap`) and the test kit (`fake_pool`)
        build their pool; the keywords mean what they mean for the constructor.
        """
        return cls(
            app_store=stores.apps,
            token_store=stores.tokens,
            ticket_store=stores.app_tickets,
            grant_store=stores.user_grants,
            issuer=issuer,
            transport=transport,
            clock=clock,
            metrics=metrics,
            apps=apps,
            default_app_id=default_app_id,
            refresh_ahead=refresh_ahead,
            limiter=limiter,
            tracer=tracer,
        )

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> CredentialPool:
        """Load apps from the store and save the apps given to the constructor into it.

        A ``default_app_id`` naming no known app is an ``UnknownAppError`` here, at open,
        rather than at the first call.
        """
        stored = {app.app_id: app for app in await self.app_store.list_apps()}
        for app in stored.values():
            self._apps.setdefault(app.app_id, app)
        for app in self._initial_apps:
            self.apps.register(app)  # again: a stored default may have been loaded
            if stored.get(app.app_id) != app:  # unchanged apps are not written at every start
                await self.app_store.save_app(app)
        default = self.resolver.default_app_id
        if default and default not in self._apps:
            known = ", ".join(sorted(self._apps)) or "none"
            raise UnknownAppError(
                f"default_app_id {default!r} is not a known app (apps known: {known})",
                app_id=default,
            )
        return self

    async def aclose(self) -> None:
        """Stop background refreshes (the stores and transport are closed by their owner)."""
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(BaseException):
                await task

    async def __aenter__(self) -> CredentialPool:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- token cache (also used by ApplicationManager) ---------------------------------

    def forget_tokens(self, app_id: str) -> None:
        """Drop every cached token of ``app_id`` (after a secret rotation, say)."""
        for key in [k for k in self._tokens if k[0] == app_id]:
            self._tokens.pop(key, None)
        self._forget_backoff(app_id)
        for ukey in [k for k in self._user_tokens if k[0] == app_id]:
            self._user_tokens.pop(ukey, None)

    def resolve(self, app_id: str | None = None, client_default: str | None = None) -> AppConfig:
        """Apply the 5-level resolution policy (see ``lark_service.application.resolution``)."""
        return self.resolver.resolve(app_id, client_default)

    # -- tenant / app tokens -----------------------------------------------------------

    def token_or_flight(
        self, app: AppConfig, kind: TokenKind = TokenKind.TENANT, tenant_key: str = ""
    ) -> str | asyncio.Future[AccessToken] | None:
        """How `get_token` starts, without a coroutine: the cached token while it is fresh
        (a refresh ahead of expiry starts in the background), else the future of the fetch
        in flight when no token is cached (there is nothing to fall back to), else ``None``:
        then `get_token` decides. The future raises what the fetch raised, or
        `FlightAbandoned` (then call `get_token`).

        `BaseServiceClient` calls this before `get_token`: 1,000 callers of a fresh app all
        wait in one loop iteration, and a coroutine around each wait is one more object per
        caller to create and for the cyclic GC to walk (issue 8 item 12).
        """
        key = (app.app_id, kind, tenant_key)
        token = self._tokens.get(key)
        if token is not None:
            remaining = token.expires_at - self.clock.now()
            if remaining > self.refresh_ahead:
                return token.value
            if remaining > self.min_remaining:
                self._refresh_in_background(key, app)
                return token.value
            return None
        if key in self._backoff:
            return None
        return self._flights.join(key)

    async def get_token(
        self, app: AppConfig, kind: TokenKind = TokenKind.TENANT, tenant_key: str = ""
    ) -> str:
        """A valid token value for ``app``; the hot path is a dict lookup.

        A miss is fetched single-flight; while Lark fails, the cached token serves until it
        really expires.
        """
        found = self.token_or_flight(app, kind, tenant_key)
        if isinstance(found, str):
            return found
        if found is not None:
            try:
                return (await found).value
            except FlightAbandoned:
                pass  # its fetching task was cancelled: this caller fetches
        key = (app.app_id, kind, tenant_key)
        token = self._tokens.get(key)
        backoff = self._backoff.get(key)
        if backoff is not None and backoff.error is not None and backoff.waiting(self.clock.now()):
            if token is not None and token.expires_at > self.clock.now():
                return token.value
            raise backoff.error
        try:
            return (await self._flights.run(key, self._obtain_missing, key, app)).value
        except LarkServiceError:
            if token is not None and token.expires_at > self.clock.now():
                return token.value
            raise

    async def tenant_access_token(self, app_id: str | None = None, tenant_key: str = "") -> str:
        """The tenant_access_token of the resolved app (``tenant_key`` for marketplace apps)."""
        return await self.get_token(self.resolve(app_id), TokenKind.TENANT, tenant_key)

    async def app_access_token(self, app_id: str | None = None) -> str:
        """The app_access_token of the resolved app."""
        return await self.get_token(self.resolve(app_id), TokenKind.APP)

    def invalidate(
        self, app_id: str, kind: TokenKind, tenant_key: str = "", value: str | None = None
    ) -> None:
        """Forget a token Lark rejected. With ``value``, only if it is still the cached one."""
        key = (app_id, kind, tenant_key)
        cached = self._tokens.get(key)
        if cached is not None and (value is None or cached.value == value):
            self._tokens.pop(key, None)
            self._rejected.add(cached.value)
        elif value is not None:
            self._rejected.add(value)

    def _refresh_in_background(self, key: _CacheKey, app: AppConfig) -> None:
        if self._flights.busy(key):
            return
        backoff = self._backoff.get(key)
        if backoff is not None and backoff.waiting(self.clock.now()):
            return
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(
            self._background_refresh(key, app)
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _background_refresh(self, key: _CacheKey, app: AppConfig) -> object:
        try:
            token = await self._flights.run(key, lambda: self._obtain(key, app, ahead=True))
        except Exception as exc:
            self.metrics.token_refresh(app_id=key[0], kind=key[1].value, outcome=type(exc).__name__)
            # The current token still serves; the failure was logged once where it happened.
            log.debug("background refresh of %s token for %s failed: %r", key[1].value, key[0], exc)
            return None
        self.metrics.token_refresh(app_id=key[0], kind=key[1].value, outcome="ok")
        return token

    def token_expiries(self) -> list[TokenExpiry]:
        """Seconds until each cached tenant/app token expires (for the expiry gauge)."""
        now = self.clock.now()
        return [
            TokenExpiry(app_id, kind.value, token.expires_at - now)
            for (app_id, kind, _), token in list(self._tokens.items())
        ]

    def _usable(self, token: AccessToken | None, *, ahead: bool) -> bool:
        if token is None or token.value in self._rejected:
            return False
        margin = self.refresh_ahead if ahead else self.min_remaining
        return token.expires_at - self.clock.now() > margin

    async def _obtain(self, key: _CacheKey, app: AppConfig, *, ahead: bool = False) -> AccessToken:
        cached = self._tokens.get(key)
        if self._usable(cached, ahead=True) and cached is not None:
            return cached
        store_key = TokenKey(app_id=key[0], kind=key[1], tenant_key=key[2])
        try:
            token = await self._load_stored(store_key, ahead=ahead)
        except StoreError as exc:
            # A store that failed (or timed out) once is not waited on again for this
            # token: fetch now, save in the background.
            log.warning("store read failed for %s, fetching directly: %s", key[0], exc)
            token = await self._fetch_backing_off(key, app)
            self._in_background(self._save(store_key, token))
        if token is None:
            async with contextlib.AsyncExitStack() as stack:
                try:
                    await stack.enter_async_context(self.token_store.token_refresh_lock(store_key))
                except StoreError as exc:
                    log.warning("store lock unavailable, fetching %s directly: %s", key[0], exc)
                else:
                    try:
                        token = await self._load_stored(store_key, ahead=ahead)
                    except StoreError as exc:
                        log.warning("store read failed for %s, fetching directly: %s", key[0], exc)
                if token is None:
                    token = await self._fetch_backing_off(key, app)
                    await self._save(store_key, token)
        self._tokens[key] = token
        return token

    async def _load_stored(self, key: TokenKey, *, ahead: bool) -> AccessToken | None:
        token = await self.token_store.load_token(key)
        return token if self._usable(token, ahead=ahead) else None

    def _in_background(self, work: Coroutine[object, object, object]) -> None:
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _save(self, key: TokenKey, token: AccessToken) -> object:
        try:
            await self.token_store.save_token(key, token)
        except StoreError as exc:
            log.warning("could not store the new token of %s: %s", key.app_id, exc)
        return None

    async def _fetch_backing_off(self, key: _CacheKey, app: AppConfig) -> AccessToken:
        try:
            token = await self.fetch_token(app, key[1], key[2])
        except ConfigError:
            raise  # bad input, not an outage: nothing to back off from
        except LarkServiceError as exc:
            backoff = self._backoff.setdefault(key, RefreshBackoff())
            delay = backoff.failed(exc, self.clock.now(), self._jitter())
            log.warning(
                "fetching the %s token of %s failed (%d in a row), next try in %.1f s: %s",
                key[1].value,
                key[0],
                backoff.failures,
                delay,
                exc,
            )
            raise
        self._backoff.pop(key, None)
        return token

    async def fetch_token(self, app: AppConfig, kind: TokenKind, tenant_key: str) -> AccessToken:
        """A fresh token from Lark, bypassing the cache and the store (counted in metrics)."""
        try:
            token = await self._issue(app, kind, tenant_key)
        except Exception as exc:
            self.metrics.token_fetch(app_id=app.app_id, kind=kind.value, outcome=type(exc).__name__)
            raise
        self.metrics.token_fetch(app_id=app.app_id, kind=kind.value, outcome="ok")
        return token

    async def _issue(self, app: AppConfig, kind: TokenKind, tenant_key: str) -> AccessToken:
        if not app.is_marketplace:
            if kind is TokenKind.APP:
                return await self.issuer.app_access_token_internal(app)
            return await self.issuer.tenant_access_token_internal(app)
        if kind is TokenKind.APP:
            ticket = await self.ticket_store.load_app_ticket(app.app_id)
            if ticket is None:
                await self.issuer.resend_app_ticket(app)
                raise AuthError(
                    "no app_ticket received yet for this marketplace app; Lark was asked to "
                    "resend it (feed it with pool.set_app_ticket)",
                    app_id=app.app_id,
                    code=10012,
                )
            try:
                return await self.issuer.app_access_token(app, app_ticket=ticket)
            except AuthError as exc:
                if exc.code == 10012:
                    await self.issuer.resend_app_ticket(app)
                raise
        if not tenant_key:
            raise ConfigError(
                "a marketplace app needs tenant_key= to get a tenant_access_token",
                app_id=app.app_id,
            )
        app_token = await self.get_token(app, TokenKind.APP)
        return await self.issuer.tenant_access_token(
            app, app_access_token=app_token, tenant_key=tenant_key
        )

    async def set_app_ticket(self, app_id: str, ticket: str) -> None:
        """Store the app_ticket Lark pushed for a marketplace app (valid about 12 h)."""
        await self.ticket_store.save_app_ticket(
            app_id, ticket, expires_at=self.clock.now() + 12 * 3600
        )
        self._forget_backoff(app_id)  # a new ticket is worth trying at once

    def _forget_backoff(self, app_id: str) -> None:
        for key in [k for k in self._backoff if k[0] == app_id]:
            self._backoff.pop(key, None)
