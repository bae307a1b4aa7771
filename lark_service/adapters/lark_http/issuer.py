"""Fetching tokens from Lark's auth endpoints (lark-api-reference.md §1)."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from lark_service.domain.apps import AppConfig
from lark_service.domain.errors import (
    AuthError,
    BadRequestError,
    PermissionDeniedError,
    ServerError,
    UserNotAuthorizedError,
)
from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.token_issuer import TokenIssuer
from lark_service.domain.ports.transport import LarkTransport
from lark_service.domain.tokens import AccessToken, TokenKind, UserToken
from lark_service.domain.wire import LarkRequest

_encode = msgspec.json.Encoder().encode
_R = TypeVar("_R")
_AUTH = "/open-apis/auth/v3/"


class _TokenReply(msgspec.Struct):
    expire: int
    tenant_access_token: str = ""
    app_access_token: str = ""


class _OAuthReply(msgspec.Struct):
    access_token: str
    expires_in: int
    refresh_token: str = ""
    refresh_token_expires_in: int = 0
    scope: str = ""


class HttpTokenIssuer(TokenIssuer):
    """The ``TokenIssuer`` port over a ``LarkTransport``."""

    def __init__(self, transport: LarkTransport, clock: Clock) -> None:
        self._transport = transport
        self._clock = clock

    async def _post(self, app: AppConfig, path: str, body: dict[str, str], api: str) -> bytes:
        request = LarkRequest(
            method="POST",
            base_url=app.base_url,
            path=path,
            api=api,
            app_id=app.app_id,
            body=_encode(body),
            idempotent=True,  # asking for a token twice has no side effect
        )
        reply = await self._transport.call(request)
        return bytes(reply.data)

    def _decode(self, raw: bytes, type_: type[_R], app: AppConfig, api: str) -> _R:
        try:
            return msgspec.json.decode(raw, type=type_)
        except msgspec.DecodeError as exc:
            raise ServerError(f"malformed token reply: {exc}", app_id=app.app_id, api=api) from None

    async def _issue(
        self, app: AppConfig, kind: TokenKind, path: str, body: dict[str, str], tenant_key: str = ""
    ) -> AccessToken:
        """POST to a token endpoint; its reply carries the token at the top level."""
        api = "auth." + path.removeprefix("/open-apis/auth/v3/").replace("/", "_")
        raw = await self._post(app, path, body, api)
        reply = self._decode(raw, _TokenReply, app, api)
        value = reply.tenant_access_token if kind is TokenKind.TENANT else reply.app_access_token
        if not value:
            raise ServerError(
                f"token reply without a {kind.value} token", app_id=app.app_id, api=api
            )
        return AccessToken(
            kind=kind,
            value=value,
            expires_at=self._clock.now() + reply.expire,
            app_id=app.app_id,
            tenant_key=tenant_key,
        )

    def _credentials(self, app: AppConfig) -> dict[str, str]:
        return {"app_id": app.app_id, "app_secret": app.app_secret}

    async def tenant_access_token_internal(self, app: AppConfig) -> AccessToken:
        return await self._issue(
            app, TokenKind.TENANT, _AUTH + "tenant_access_token/internal", self._credentials(app)
        )

    async def app_access_token_internal(self, app: AppConfig) -> AccessToken:
        return await self._issue(
            app, TokenKind.APP, _AUTH + "app_access_token/internal", self._credentials(app)
        )

    async def app_access_token(self, app: AppConfig, *, app_ticket: str) -> AccessToken:
        body = {**self._credentials(app), "app_ticket": app_ticket}
        return await self._issue(app, TokenKind.APP, _AUTH + "app_access_token", body)

    async def tenant_access_token(
        self, app: AppConfig, *, app_access_token: str, tenant_key: str
    ) -> AccessToken:
        body = {"app_access_token": app_access_token, "tenant_key": tenant_key}
        return await self._issue(
            app, TokenKind.TENANT, _AUTH + "tenant_access_token", body, tenant_key
        )

    async def resend_app_ticket(self, app: AppConfig) -> None:
        await self._post(
            app, _AUTH + "app_ticket/resend", self._credentials(app), "auth.app_ticket_resend"
        )

    async def _oauth(self, app: AppConfig, user_id: str, body: dict[str, str]) -> UserToken:
        api = "authen.oauth_token"
        try:
            raw = await self._post(app, "/open-apis/authen/v2/oauth/token", body, api)
        except (AuthError, BadRequestError, PermissionDeniedError) as exc:
            raise UserNotAuthorizedError(
                f"Lark refused the user's grant: {exc.msg}",
                code=exc.code,
                app_id=app.app_id,
                api=api,
                log_id=exc.log_id,
                http_status=exc.http_status,
            ) from None
        reply = self._decode(raw, _OAuthReply, app, api)
        now = self._clock.now()
        return UserToken(
            app_id=app.app_id,
            user_id=user_id,
            access_token=reply.access_token,
            expires_at=now + reply.expires_in,
            refresh_token=reply.refresh_token,
            refresh_expires_at=now + reply.refresh_token_expires_in
            if reply.refresh_token_expires_in
            else 0.0,
            scope=reply.scope,
        )

    async def refresh_user_access_token(
        self, app: AppConfig, *, user_id: str, refresh_token: str
    ) -> UserToken:
        return await self._oauth(
            app,
            user_id,
            {
                "grant_type": "refresh_token",
                "client_id": app.app_id,
                "client_secret": app.app_secret,
                "refresh_token": refresh_token,
            },
        )

    async def user_access_token_from_code(
        self,
        app: AppConfig,
        *,
        user_id: str,
        code: str,
        redirect_uri: str = "",
        code_verifier: str = "",
    ) -> UserToken:
        body = {
            "grant_type": "authorization_code",
            "client_id": app.app_id,
            "client_secret": app.app_secret,
            "code": code,
        }
        if redirect_uri:
            body["redirect_uri"] = redirect_uri
        if code_verifier:
            body["code_verifier"] = code_verifier
        return await self._oauth(app, user_id, body)
