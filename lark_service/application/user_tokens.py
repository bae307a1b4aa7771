"""User tokens in the pool: OAuth grants kept, refreshed and rotated (single-flight).

A refresh token works once, so a refreshed grant that the store cannot take is not an
error for the caller: the grant is kept in memory (and served from there while the store
is down) and saved again in the background, a bounded number of times with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import msgspec
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from lark_service.application.single_flight import SingleFlight
from lark_service.domain.apps import AppConfig
from lark_service.domain.errors import StoreError, UserAuthorizationRequired, UserNotAuthorizedError
from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.grant_sessions import GrantObserver
from lark_service.domain.ports.metrics import Metrics
from lark_service.domain.ports.token_issuer import TokenIssuer
from lark_service.domain.ports.tokens import TokenStore
from lark_service.domain.ports.user_grants import UserGrantStore
from lark_service.domain.tokens import TokenKey, TokenKind, UserToken

log = logging.getLogger("lark_service.pool")

# About 25-30 s of retries in all: 0.1, 0.2, 0.4 ... 10 s apart (each plus up to 1 s of jitter).
SAVE_ATTEMPTS = 9


class UserTokenMixin:
    """The ``user_access_token`` half of `CredentialPool`.

    Each refresh token works once: the refreshed grant (with its new refresh token) is saved
    before it is used, or the user would have to authorize the app again. A refresh holds the
    token store's refresh lock of the user's key, so replicas refresh once between them.
    A grant that cannot be refreshed (expired, or refused by Lark) is deleted, the
    ``grant_observer`` is told once, and every call raises `UserAuthorizationRequired` at
    once until the user authorizes again: no call retries a dead grant.
    """

    grant_store: UserGrantStore
    token_store: TokenStore
    issuer: TokenIssuer
    clock: Clock
    metrics: Metrics
    # set by the composition root (the grants use case) to prompt users whose grant lapsed
    grant_observer: GrantObserver | None = None
    min_remaining: float
    _user_tokens: dict[tuple[str, str], UserToken]
    _user_flights: SingleFlight[UserToken]
    _rejected: set[str]
    _background: set[asyncio.Task[object]]

    if TYPE_CHECKING:

        def resolve(
            self, app_id: str | None = None, client_default: str | None = None
        ) -> AppConfig: ...

    async def save_user_token(self, token: UserToken) -> UserToken:
        """Keep a user's grant (from the OAuth flow); it is refreshed and rotated as needed.

        Returns the grant as kept: a new authorization, granted now unless ``granted_at``
        says when. If the store fails, the grant is kept in memory and saved again in the
        background.
        """
        if token.granted_at is None:
            token = msgspec.structs.replace(token, granted_at=self.clock.now())
        self._user_tokens[(token.app_id, token.user_id)] = token
        await self._save_grant(token)
        return token

    async def authorize_user(
        self,
        app_id: str,
        user_id: str,
        code: str,
        redirect_uri: str = "",
        *,
        code_verifier: str = "",
    ) -> UserToken:
        """Exchange an OAuth authorization code for the user's tokens and keep them."""
        app = self.resolve(app_id)
        token = await self.issuer.user_access_token_from_code(
            app,
            user_id=user_id,
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
        )
        return await self.save_user_token(token)

    async def revoke_user(self, app_id: str, user_id: str) -> None:
        """Forget a user's grant."""
        self._user_tokens.pop((app_id, user_id), None)
        await self.grant_store.delete_user_token(app_id, user_id)

    async def user_access_token(self, app: AppConfig, user_id: str) -> str:
        """A valid user_access_token for ``user_id``, refreshing (and rotating) when needed."""
        key = (app.app_id, user_id)
        token = self._user_tokens.get(key)
        if token is not None and token.expires_at - self.clock.now() > self.min_remaining:
            return token.access_token
        fresh = await self._user_flights.run(key, lambda: self._obtain_user(app, user_id))
        return fresh.access_token

    def invalidate_user(self, app_id: str, user_id: str, value: str | None = None) -> None:
        """Forget a user token Lark rejected; its refresh token is kept for the next call."""
        token = self._user_tokens.get((app_id, user_id))
        if value is not None:
            self._rejected.add(value)
        if token is None or (value is not None and token.access_token != value):
            return
        self._rejected.add(token.access_token)
        self._user_tokens[(app_id, user_id)] = msgspec.structs.replace(token, expires_at=0.0)

    def _fresh_user(self, token: UserToken | None, now: float) -> bool:
        return (
            token is not None
            and token.access_token not in self._rejected
            and token.expires_at - now > self.min_remaining
        )

    async def _obtain_user(self, app: AppConfig, user_id: str) -> UserToken:
        token = self._user_tokens.get((app.app_id, user_id))
        if self._fresh_user(token, self.clock.now()) and token is not None:
            return token
        lapsed: UserAuthorizationRequired | None = None
        lock_key = TokenKey(app_id=app.app_id, kind=TokenKind.USER, user_id=user_id)
        async with contextlib.AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self.token_store.token_refresh_lock(lock_key))
            except StoreError as exc:
                log.warning("store lock unavailable, refreshing a user token directly: %s", exc)
            try:
                return await self._refresh_user(app, user_id, token)
            except UserAuthorizationRequired as exc:
                if exc.reason == "missing":
                    raise
                lapsed = exc
        # told outside the lock: prompting the user must not hold up other refreshes
        await self._tell_lapsed(app.app_id, user_id, lapsed.reason)
        raise lapsed

    async def _refresh_user(
        self, app: AppConfig, user_id: str, token: UserToken | None
    ) -> UserToken:
        now = self.clock.now()
        # another replica may have refreshed while this one waited for the lock
        store_down = False
        try:
            stored = await self.grant_store.load_user_token(app.app_id, user_id)
        except StoreError as exc:
            if token is None:
                raise
            log.warning("grant store unavailable, using the grant in memory: %s", exc)
            stored, store_down = None, True
        if (
            stored is not None
            and stored.access_token not in self._rejected
            and (token is None or stored.expires_at >= token.expires_at)
        ):
            token = stored
        if token is None or (stored is None and not store_down):
            self._user_tokens.pop((app.app_id, user_id), None)
            raise UserAuthorizationRequired(
                f"user {user_id!r} has not authorized app {app.app_id!r}: run the OAuth flow "
                "(the grants use case, or pool.authorize_user)",
                app_id=app.app_id,
                user_id=user_id,
                reason="missing",
            )
        if self._fresh_user(token, now):
            self._user_tokens[(app.app_id, user_id)] = token
            return token
        if not token.refresh_token or (
            token.refresh_expires_at and token.refresh_expires_at <= now
        ):
            await self._drop_grant(app.app_id, user_id)
            raise UserAuthorizationRequired(
                f"the authorization of user {user_id!r} for app {app.app_id!r} has expired: "
                "the user must authorize the app again",
                app_id=app.app_id,
                user_id=user_id,
                reason="expired",
            )
        try:
            fresh = await self.issuer.refresh_user_access_token(
                app, user_id=user_id, refresh_token=token.refresh_token
            )
        except UserNotAuthorizedError as exc:
            self.metrics.token_refresh(app_id=app.app_id, kind="user", outcome="refused")
            await self._drop_grant(app.app_id, user_id)
            raise UserAuthorizationRequired(
                f"Lark refused the grant of user {user_id!r} for app {app.app_id!r} "
                f"({exc.msg}): the user must authorize the app again",
                app_id=app.app_id,
                user_id=user_id,
                reason="refused",
                code=exc.code,
                log_id=exc.log_id,
                api=exc.api,
            ) from None
        self.metrics.token_refresh(app_id=app.app_id, kind="user", outcome="ok")
        self._user_tokens[(app.app_id, user_id)] = fresh
        # The old refresh token is now spent: the new one must be kept or the grant is lost.
        await self._save_grant(fresh)
        return fresh

    async def _drop_grant(self, app_id: str, user_id: str) -> None:
        self._user_tokens.pop((app_id, user_id), None)
        await self.grant_store.delete_user_token(app_id, user_id)

    async def _tell_lapsed(self, app_id: str, user_id: str, reason: str) -> None:
        observer = self.grant_observer
        if observer is None:
            return
        try:
            await observer.grant_lapsed(app_id, user_id, reason)
        except Exception:  # a failed prompt must not hide the authorization error
            log.exception("could not prompt user %s of app %s to authorize again", user_id, app_id)

    async def _save_grant(self, token: UserToken) -> None:
        try:
            await self.grant_store.save_user_token(token)
        except StoreError as exc:
            log.warning(
                "could not save the grant of user %s for %s, kept in memory and retrying: %s",
                token.user_id,
                token.app_id,
                exc,
            )
            task: asyncio.Task[object] = asyncio.get_running_loop().create_task(
                self._keep_saving(token)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _keep_saving(self, token: UserToken) -> object:
        key = (token.app_id, token.user_id)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(SAVE_ATTEMPTS),
            wait=wait_exponential(multiplier=0.1, max=10.0) + wait_random(0, 1.0),
            retry=retry_if_exception_type(StoreError),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if self._user_tokens.get(key) is not token:
                        return None  # a newer grant replaced it (and is saved on its own)
                    await self.grant_store.save_user_token(token)
        except StoreError as exc:
            log.error(
                "gave up saving the grant of user %s for %s after %d tries; it lives in "
                "memory only, so after a restart the user must authorize again: %s",
                token.user_id,
                token.app_id,
                SAVE_ATTEMPTS,
                exc,
            )
        return None
