"""`GrantService`: the whole life of a user's OAuth grant (``user_access_token``).

* `authorization_url` / `begin`: Lark's authorization URL with a signed ``state`` (app, user,
  session, redirect URI, expiry) and a PKCE ``S256`` challenge (Lark's OAuth v2 takes
  ``code_verifier``); `begin` also records a pending `GrantSession`.
* `complete`: the redirect route's work: check the state, exchange the code (with the
  verifier), keep the tokens (encrypted at rest by the grant store), close the session.
* Refresh with refresh-token rotation happens in the pool (`UserTokenMixin`), single-flight
  in a process and under the token store's lock across replicas; a grant that cannot be
  refreshed becomes `UserAuthorizationRequired` and comes back here as `grant_lapsed`.
* `request_user_authorization`: the same link in a card sent to the user, updated in place
  when the session completes, expires or fails. One pending session per (app, user): asking
  again while one is pending returns it, so a user never gets a second card for one need.
* The card's "New link" and "Cancel" buttons (`grant_card_actions`): answered with a
  toast at once, the card replaced in place after the answer; only the user the card is for
  can use them.
* Token care: `check_grants` prompts users whose refresh token is about to lapse, and
  `grant_lapsed` those whose refresh failed: one card, a metric and a bus event
  ``<app_id>.user_grant.expiring`` / ``.lapsed`` each.
* `expire_sessions` / `prune_sessions`: upkeep of ended sessions.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from urllib.parse import urlencode, urlsplit

import msgspec

from lark_service.application.clients.messaging import MessagingClient
from lark_service.application.pool import CredentialPool
from lark_service.application.single_flight import SingleFlight
from lark_service.application.usecases.grant_cards import authorization_card
from lark_service.application.usecases.grant_identity import signed_in_open_id
from lark_service.application.usecases.grant_state import GrantStateSigner, code_challenge
from lark_service.domain.apps import AppConfig, Domain
from lark_service.domain.errors import ConfigError, LarkServiceError, UserNotAuthorizedError
from lark_service.domain.grants import (
    AuthorizationLink,
    GrantExpiry,
    GrantSession,
    GrantSessionStatus,
    GrantStatus,
    GrantUpkeep,
)
from lark_service.domain.ports.events import EventBus
from lark_service.domain.ports.grant_sessions import GrantSessionStore
from lark_service.domain.ports.user_grants import UserGrantStore
from lark_service.domain.tokens import UserToken

__all__ = ["DEFAULT_SCOPE", "GrantService"]

log = logging.getLogger("lark_service.grants")

DEFAULT_SCOPE = "offline_access"  # without it Lark issues no refresh_token
ACCOUNTS_HOSTS = {
    Domain.FEISHU.value: "https://accounts.feishu.cn",
    Domain.LARK.value: "https://accounts.larksuite.com",
}
AUTHORIZE_PATH = "/open-apis/authen/v1/authorize"
_USER_ID_MAX = 128


def _check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise ConfigError(
            "redirect_uri: give the absolute http(s) URL of the service's /v1/oauth/callback "
            "(registered as a redirect URL in the app's console)"
        )
    return uri


def _card_scope(scope: str) -> str:
    # the default need not ride in the card's buttons: a new link asks for it anyway
    return "" if scope in ("", DEFAULT_SCOPE) else scope


def _check_user_id(user_id: str) -> str:
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > _USER_ID_MAX:
        raise ConfigError("user_id: give the user's open_id (ou_...)")
    return user_id


def _granted(token: UserToken) -> GrantStatus:
    return GrantStatus(
        app_id=token.app_id,
        user_id=token.user_id,
        authorized=True,
        expires_at=token.expires_at,
        refresh_expires_at=token.refresh_expires_at,
        scope=token.scope,
        granted_at=token.granted_at,
    )


class GrantService:
    """Authorization links, the OAuth callback, revocation, authorization cards and care.

    ``secret`` signs states and derives PKCE verifiers: every replica needs the same one.
    ``redirect_uri`` is the service's public callback URL (a call may name another).
    ``accounts_url`` replaces Lark's accounts host (a fake Lark server, a proxy).
    ``verify_user``: after the exchange, ask Lark who signed in (``authen/v1/user_info``) and
    keep the grant only if it is the user the link was made for.
    """

    def __init__(
        self,
        pool: CredentialPool,
        *,
        sessions: GrantSessionStore,
        messaging: MessagingClient,
        secret: str | bytes,
        redirect_uri: str = "",
        accounts_url: str | None = None,
        session_ttl: float = 600.0,
        expiring_within: float = 3 * 86400.0,
        bus: EventBus | None = None,
        verify_user: bool = True,
    ) -> None:
        if session_ttl <= 0 or expiring_within <= 0:
            raise ConfigError("session_ttl and expiring_within must be positive")
        self.pool = pool
        self.sessions = sessions
        self.messaging = messaging
        self.redirect_uri = _check_redirect_uri(redirect_uri) if redirect_uri else ""
        self.accounts_url = accounts_url.rstrip("/") if accounts_url else None
        self.session_ttl = session_ttl
        self.expiring_within = expiring_within
        self.bus = bus
        self.verify_user = verify_user
        self._signer = GrantStateSigner(secret)
        self._requests: SingleFlight[GrantSession] = SingleFlight()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(redirect_uri={self.redirect_uri!r})"

    @property
    def grants(self) -> UserGrantStore:
        return self.pool.grant_store

    def watch_pool(self) -> None:
        """Be told by the pool when a grant lapses (token care)."""
        self.pool.grant_observer = self

    # -- links -------------------------------------------------------------------------

    def authorization_url(
        self,
        app_id: str | None,
        user_id: str,
        redirect_uri: str | None = None,
        *,
        scope: str = DEFAULT_SCOPE,
        session_id: str | None = None,
        ttl: float | None = None,
    ) -> AuthorizationLink:
        """Lark's authorization URL for ``user_id`` (no session is recorded: see `begin`)."""
        _check_user_id(user_id)
        app = self.pool.resolve(app_id)
        redirect = _check_redirect_uri(redirect_uri) if redirect_uri else self.redirect_uri
        if not redirect:
            raise ConfigError("redirect_uri: none given and the service has no default")
        scopes = scope.split()
        if DEFAULT_SCOPE not in scopes:
            scopes.append(DEFAULT_SCOPE)
        sid = session_id or secrets.token_urlsafe(16)
        expires_at = self.pool.clock.now() + (self.session_ttl if ttl is None else ttl)
        state = self._signer.sign(
            app_id=app.app_id,
            user_id=user_id,
            session_id=sid,
            expires_at=expires_at,
            redirect_uri=redirect,
        )
        query = {
            "client_id": app.app_id,
            "redirect_uri": redirect,
            "scope": " ".join(scopes),
            "state": state,
            "response_type": "code",
            "code_challenge": code_challenge(self._signer.code_verifier(sid)),
            "code_challenge_method": "S256",
        }
        url = f"{self._accounts(app)}{AUTHORIZE_PATH}?{urlencode(query)}"
        return AuthorizationLink(
            url=url, app_id=app.app_id, user_id=user_id, session_id=sid, expires_at=expires_at
        )

    def _accounts(self, app: AppConfig) -> str:
        if self.accounts_url:
            return self.accounts_url
        return ACCOUNTS_HOSTS.get(app.domain, ACCOUNTS_HOSTS[Domain.FEISHU.value])

    async def begin(
        self,
        app_id: str | None,
        user_id: str,
        redirect_uri: str | None = None,
        *,
        scope: str = DEFAULT_SCOPE,
        reason: str = "requested",
    ) -> tuple[AuthorizationLink, GrantSession]:
        """An authorization link and its pending session (kept in the session store)."""
        link = self.authorization_url(app_id, user_id, redirect_uri, scope=scope)
        now = self.pool.clock.now()
        session = GrantSession(
            session_id=link.session_id,
            app_id=link.app_id,
            user_id=user_id,
            status=GrantSessionStatus.PENDING,
            created_at=now,
            expires_at=link.expires_at,
            reason=reason,
            updated_at=now,
        )
        await self.sessions.save_session(session)
        return link, session

    # -- the callback ------------------------------------------------------------------

    async def complete(self, code: str, state: str) -> GrantStatus:
        """Exchange ``code`` (from the redirect) for the user's tokens and keep them.

        A bad, foreign or expired state is a `ConfigError` before any call to Lark; a code
        Lark refuses is a `UserNotAuthorizedError`. Either way the session (and its card)
        ends as ``expired`` or ``failed``.
        """
        if not isinstance(code, str) or not code or len(code) > 512:
            raise ConfigError("code: missing or malformed authorization code")
        claims = self._signer.verify(state)
        session = await self.sessions.load_session(claims.session_id)
        if session is not None and session.ended:
            raise ConfigError(f"state: this authorization session is already {session.status}")
        if self.pool.clock.now() >= claims.expires_at:
            await self._finish(session, GrantSessionStatus.EXPIRED)
            raise ConfigError("state: the authorization link has expired; ask for a new one")
        app = self.pool.resolve(claims.app_id)
        try:
            token = await self.pool.issuer.user_access_token_from_code(
                app,
                user_id=claims.user_id,
                code=code,
                redirect_uri=claims.redirect_uri,
                code_verifier=self._signer.code_verifier(claims.session_id),
            )
            if self.verify_user:
                who = await signed_in_open_id(self.pool.transport, app, token.access_token)
                if who != claims.user_id:
                    raise UserNotAuthorizedError(
                        f"the link was for user {claims.user_id!r} but another user approved "
                        "it; nothing was stored",
                        app_id=app.app_id,
                    )
        except LarkServiceError as exc:
            await self._finish(session, GrantSessionStatus.FAILED, reason=f"code {exc.code}")
            raise
        token = await self.pool.save_user_token(token)
        await self._finish(session, GrantSessionStatus.COMPLETED)
        await self._publish(claims.app_id, "granted", claims.user_id)
        return _granted(token)

    async def deny(self, state: str, error: str) -> GrantSession | None:
        """The redirect brought ``error`` (the user declined): the session fails."""
        claims = self._signer.verify(state)
        session = await self.sessions.load_session(claims.session_id)
        if session is None or session.ended:
            return session
        reason = error[:64] if error else "declined"
        return await self._finish(session, GrantSessionStatus.FAILED, reason=reason)

    # -- grants ------------------------------------------------------------------------

    async def status(self, app_id: str | None, user_id: str) -> GrantStatus:
        """Whether ``user_id`` has a grant for the app, and until when (never the tokens)."""
        _check_user_id(user_id)
        app = self.pool.resolve(app_id)
        token = await self.grants.load_user_token(app.app_id, user_id)
        if token is None:
            return GrantStatus(app_id=app.app_id, user_id=user_id, authorized=False)
        return _granted(token)

    async def access_token(self, app_id: str | None, user_id: str) -> str:
        """A valid user_access_token (refreshed and rotated as needed) or
        `UserAuthorizationRequired`."""
        _check_user_id(user_id)
        return await self.pool.user_access_token(self.pool.resolve(app_id), user_id)

    async def revoke(self, app_id: str | None, user_id: str) -> None:
        """Forget the grant: later calls as the user raise `UserAuthorizationRequired`.

        Lark's OAuth v2 has no revocation endpoint; the tokens are deleted here and the user
        can also remove the app's access in Lark's own settings.
        """
        _check_user_id(user_id)
        app = self.pool.resolve(app_id)
        await self.pool.revoke_user(app.app_id, user_id)
        await self._publish(app.app_id, "revoked", user_id)

    # -- cards -------------------------------------------------------------------------

    async def request_user_authorization(
        self,
        user_id: str,
        *,
        app_id: str | None = None,
        redirect_uri: str | None = None,
        scope: str = DEFAULT_SCOPE,
        reason: str = "requested",
    ) -> GrantSession:
        """Send ``user_id`` (an open_id) a card with the authorization link.

        While a session of this app and user is pending, its session is returned and no
        second card is sent. The card follows the session: completed, expired or failed.
        """
        _check_user_id(user_id)
        app = self.pool.resolve(app_id)
        return await self._requests.run(
            (app.app_id, user_id),
            lambda: self._request(app, user_id, redirect_uri, scope, reason),
        )

    async def _request(
        self, app: AppConfig, user_id: str, redirect_uri: str | None, scope: str, reason: str
    ) -> GrantSession:
        now = self.pool.clock.now()
        for pending in await self.sessions.pending_sessions(app_id=app.app_id, user_id=user_id):
            if pending.expires_at > now:
                return pending
            await self._finish(pending, GrantSessionStatus.EXPIRED)
        link, session = await self.begin(
            app.app_id, user_id, redirect_uri, scope=scope, reason=reason
        )
        try:
            message = await self.messaging.send_card(
                user_id,
                authorization_card(session, app.name, link.url, scope=_card_scope(scope)),
                receive_id_type="open_id",
                app_id=app.app_id,
            )
        except LarkServiceError as exc:
            await self._finish(
                session, GrantSessionStatus.FAILED, reason=f"card not sent: {exc.code}"
            )
            raise
        session = msgspec.structs.replace(session, message_id=message.message_id)
        await self.sessions.save_session(session)
        return session

    async def _finish(
        self, session: GrantSession | None, status: GrantSessionStatus, *, reason: str = ""
    ) -> GrantSession | None:
        if session is None:
            return None
        changes: dict[str, object] = {"status": status, "updated_at": self.pool.clock.now()}
        if reason:
            changes["reason"] = reason
        ended = msgspec.structs.replace(session, **changes)
        await self.sessions.save_session(ended)
        await self.update_card(ended)
        return ended

    async def update_card(self, session: GrantSession, url: str = "", scope: str = "") -> None:
        """Show ``session``'s state on its card (``url``: the link of a pending one)."""
        if not session.message_id:
            return
        app = self.pool.resolve(session.app_id)
        try:
            await self.messaging.update_card(
                session.message_id,
                authorization_card(session, app.name, url, scope=_card_scope(scope)),
                app_id=app.app_id,
            )
        except LarkServiceError as exc:  # the grant matters more than its card
            log.warning("could not update the authorization card of %s: %s", app.app_id, exc)

    # -- upkeep and token care ---------------------------------------------------------

    async def expire_sessions(self) -> int:
        """End pending sessions past their expiry (their cards say so); how many."""
        now, count = self.pool.clock.now(), 0
        for session in await self.sessions.pending_sessions():
            if session.expires_at <= now:
                await self._finish(session, GrantSessionStatus.EXPIRED)
                count += 1
        return count

    async def prune_sessions(self, *, keep_for: float = 86400.0) -> int:
        """Expire overdue sessions, then delete those ended more than ``keep_for`` s ago."""
        await self.expire_sessions()
        return await self.sessions.delete_sessions_before(self.pool.clock.now() - keep_for)

    async def upkeep(self, *, keep_for: float = 86400.0) -> GrantUpkeep:
        """One pass of the periodic work: expire, prune, prompt expiring grants.

        Safe to run in several replicas at once (each step is idempotent) but meant for one.
        """
        expired = await self.expire_sessions()
        pruned = await self.prune_sessions(keep_for=keep_for)
        prompted = await self.check_grants()
        return GrantUpkeep(expired=expired, pruned=pruned, prompted=prompted)

    async def grant_lapsed(self, app_id: str, user_id: str, reason: str) -> None:
        """The pool could not refresh this grant: prompt the user once (`GrantObserver`)."""
        await self._care(app_id, user_id, "lapsed", detail=reason)

    async def check_grants(self, grants: Sequence[GrantExpiry] | None = None) -> int:
        """Prompt users whose refresh token lapses within ``expiring_within`` seconds.

        ``grants`` defaults to the grant store's expiring ones. Returns how many users were
        prompted: a user whose prompt is still pending is not prompted again.
        """
        now, count = self.pool.clock.now(), 0
        if grants is None:
            grants = await self.grants.expiring_user_grants(now + self.expiring_within)
        for grant in grants:
            left = grant.refresh_expires_at - now
            if grant.refresh_expires_at and left <= self.expiring_within:
                count += await self._care(
                    grant.app_id, grant.user_id, "expiring", detail="refresh token"
                )
        return count

    async def _care(self, app_id: str, user_id: str, kind: str, *, detail: str) -> int:
        now = self.pool.clock.now()
        pending = await self.sessions.pending_sessions(app_id=app_id, user_id=user_id)
        if any(s.expires_at > now for s in pending):
            return 0
        self.pool.metrics.token_refresh(app_id=app_id, kind="user_grant", outcome=kind)
        await self._publish(app_id, kind, user_id, detail=detail)
        try:
            await self.request_user_authorization(user_id, app_id=app_id, reason=kind)
        except LarkServiceError as exc:
            log.warning("could not send the authorization card of %s: %s", app_id, exc)
            return 0
        return 1

    async def _publish(self, app_id: str, what: str, user_id: str, *, detail: str = "") -> None:
        if self.bus is None:
            return
        topic = f"{app_id}.user_grant.{what}"
        payload = {"app_id": app_id, "user_id": user_id, "at": self.pool.clock.now()}
        if detail:
            payload["detail"] = detail
        try:
            await self.bus.publish(topic, msgspec.json.encode(payload))
        except LarkServiceError as exc:
            log.warning("publishing %s failed: %s", topic, exc)
