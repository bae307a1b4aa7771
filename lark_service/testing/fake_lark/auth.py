"""Lark's auth endpoints (lark-api-reference.md §1), as the fake serves them.

App and tenant tokens (replies are *not* wrapped in ``data``)::

    POST /open-apis/auth/v3/tenant_access_token/internal  {app_id, app_secret}
        -> {"code":0,"msg":"ok","tenant_access_token":"t-…","expire":N}
    POST /open-apis/auth/v3/app_access_token/internal     {app_id, app_secret}
        -> {"code":0,"msg":"ok","app_access_token":"a-…","expire":N}
    POST /open-apis/auth/v3/app_access_token              {app_id, app_secret, app_ticket}
    POST /open-apis/auth/v3/tenant_access_token           {app_access_token, tenant_key}
    POST /open-apis/auth/v3/app_ticket/resend             {app_id, app_secret} -> {"code":0}

Errors (all HTTP 400, ``{"code","msg","error":{"log_id"}}``): wrong secret 10014 ``app secret
invalid``; unknown app_id 10003 ``invalid param``; missing/ill-typed fields or a body that is
not a JSON object also 10003 (chosen: Lark documents no separate code); a bad or missing
app_ticket 10012 ``app_ticket is invalid``; an invalid/expired app token given to the
marketplace tenant endpoint 99991664. Chosen where Lark is silent: the ``/internal``
endpoints serve self-built apps only and the store endpoints (and resend) marketplace apps
only, anything else is 10003; a tenant_key the app is not installed in is 10003. ``resend``
generates a new ticket, which a test reads with ``fake.app_ticket(app_id)`` (the real Lark
would push it as an ``app_ticket`` event).

User tokens: ``POST /open-apis/authen/v2/oauth/token`` with ``grant_type``
``authorization_code`` (client_id, client_secret, code, redirect_uri) or ``refresh_token``
(client_id, client_secret, refresh_token), as JSON or urlencoded. Success is top-level
``{"code":0,"access_token":"u-…","expires_in":7200,"refresh_token":"ur-…",
"refresh_token_expires_in":2592000,"token_type":"Bearer","scope":…}``. Errors are HTTP 400
``{"code":N,"error":<RFC 6749 error>,"error_description":…}``; the numbers follow Lark's
OAuth error table as we recall it (not verified against the live API):
20001 invalid_request / unsupported_grant_type, 20002 invalid_client, 20003 code invalid,
20004 code expired, 20065 code already used, 20071 redirect_uri mismatch, 20026 refresh
token invalid, 20037 refresh token expired, 20064 refresh token revoked (after
``invalidate_tokens``), 20073 refresh token already used.

Every request to a token-issuing path (not ``resend``) counts toward the app's
token-request counter, failures included.

The authorization page (``GET /open-apis/authen/v1/authorize``, on Lark's accounts host) is
played by `approve`: the user ``user_id`` approves (or denies) an authorization URL and gets
the redirect URL with ``code`` and ``state`` (or ``error=access_denied``). The route answers
the same 302 when the request names the signed-in user in the ``X-Fake-User`` header (chosen:
the real page needs a browser session). ``GET /open-apis/authen/v1/user_info`` (user token
only) answers ``{"open_id", "tenant_key"}`` of the token's user. A ``code_challenge`` (PKCE,
``S256`` or ``plain``) given there must be matched by the ``code_verifier`` of the exchange,
else 20003 ``invalid_grant`` (chosen: Lark documents no separate code).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import msgspec
from starlette.responses import RedirectResponse

from lark_service.testing.fake_lark.models import FakeApp, FakeLarkError, FakeRequest
from lark_service.testing.fake_lark.server import FakeLark, HandlerResult

TENANT_INTERNAL = "/open-apis/auth/v3/tenant_access_token/internal"
APP_INTERNAL = "/open-apis/auth/v3/app_access_token/internal"
APP_STORE = "/open-apis/auth/v3/app_access_token"
TENANT_STORE = "/open-apis/auth/v3/tenant_access_token"
TICKET_RESEND = "/open-apis/auth/v3/app_ticket/resend"
OAUTH_TOKEN = "/open-apis/authen/v2/oauth/token"  # noqa: S105  # nosec B105 - a path
AUTHORIZE = "/open-apis/authen/v1/authorize"
USER_INFO = "/open-apis/authen/v1/user_info"
TOKEN_PATHS = (TENANT_INTERNAL, APP_INTERNAL, APP_STORE, TENANT_STORE, OAUTH_TOKEN)
_PKCE = "oauth_pkce"  # fake.state key: code -> (code_challenge, method)


def approve(fake: FakeLark, authorize_url: str, user_id: str, *, deny: bool = False) -> str:
    """The redirect URL Lark sends the browser to after ``user_id`` answers the page."""
    query = dict(parse_qsl(urlsplit(authorize_url).query))
    app_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
    fake.get_app(app_id)
    if not redirect_uri:
        raise FakeLarkError(400, 20001, "invalid param: redirect_uri")
    reply = {"state": query.get("state", "")}
    if deny:
        reply["error"] = "access_denied"
    else:
        code = "code-" + secrets.token_hex(8)
        fake.add_auth_code(
            app_id, user_id, code, redirect_uri=redirect_uri, scope=query.get("scope", "")
        )
        challenge = query.get("code_challenge")
        if challenge:
            method = query.get("code_challenge_method", "plain")
            fake.state.setdefault(_PKCE, {})[code] = (challenge, method)
        reply["code"] = code
    sep = "&" if "?" in redirect_uri else "?"
    return redirect_uri + sep + urlencode(reply)


def _pkce_matches(fake: FakeLark, code: str, verifier: object) -> bool:
    pending = fake.state.get(_PKCE, {}).get(code)
    if pending is None:
        return True
    challenge, method = pending
    if not isinstance(verifier, str) or not verifier:
        return False
    if method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(str(verifier), challenge)


class _OAuthError(Exception):
    def __init__(self, code: int, error: str, description: str) -> None:
        super().__init__(description)
        self.code, self.error, self.description = code, error, description


def _params(body: bytes) -> dict[str, Any]:
    try:
        data = msgspec.json.decode(body) if body else None
    except msgspec.DecodeError:
        data = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    return data if isinstance(data, dict) else {}


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise FakeLarkError(400, 10003, f"invalid param: {name}")
    return value


def _app(fake: FakeLark, body: dict[str, Any], *, marketplace: bool) -> FakeApp:
    app_id, secret = _field(body, "app_id"), _field(body, "app_secret")
    app = fake.apps.get(app_id)
    if app is None:
        raise FakeLarkError(400, 10003, "invalid param")
    if not hmac.compare_digest(secret.encode(), app.app_secret.encode()):
        raise FakeLarkError(400, 10014, "app secret invalid")
    if app.is_marketplace != marketplace:
        kind = "marketplace" if marketplace else "self-built"
        raise FakeLarkError(400, 10003, f"invalid param: this endpoint serves {kind} apps")
    return app


def _ok(kind: str, value: str, expire: int) -> tuple[int, dict[str, Any]]:
    return 200, {"code": 0, "msg": "ok", kind: value, "expire": expire}


def register(fake: FakeLark) -> None:
    def resolve_app(body: bytes) -> str:
        params = _params(body)
        app_id = params.get("app_id") or params.get("client_id")
        if isinstance(app_id, str):
            return app_id
        tok = fake.tokens.get(str(params.get("app_access_token", "")))
        return tok.info.app_id if tok is not None else ""

    for path in TOKEN_PATHS:
        fake.token_paths[path] = resolve_app

    @fake.route("POST", TENANT_INTERNAL)
    async def tenant_internal(req: FakeRequest) -> HandlerResult:
        app = _app(fake, _params(req.body), marketplace=False)
        return _ok(
            "tenant_access_token", *fake.tokens.issue(app.app_id, "tenant", app.tenant_keys[0])
        )

    @fake.route("POST", APP_INTERNAL)
    async def app_internal(req: FakeRequest) -> HandlerResult:
        app = _app(fake, _params(req.body), marketplace=False)
        return _ok("app_access_token", *fake.tokens.issue(app.app_id, "app", ""))

    @fake.route("POST", APP_STORE)
    async def app_store(req: FakeRequest) -> HandlerResult:
        body = _params(req.body)
        app = _app(fake, body, marketplace=True)
        ticket = body.get("app_ticket")
        if not isinstance(ticket, str) or not fake.tokens.ticket_valid(app.app_id, ticket):
            raise FakeLarkError(400, 10012, "app_ticket is invalid")
        return _ok("app_access_token", *fake.tokens.issue(app.app_id, "app", ""))

    @fake.route("POST", TENANT_STORE)
    async def tenant_store(req: FakeRequest) -> HandlerResult:
        body = _params(req.body)
        app_token, tenant_key = _field(body, "app_access_token"), _field(body, "tenant_key")
        tok = fake.tokens.get(app_token)
        if tok is None or tok.info.kind != "app" or fake.now() >= tok.expires_at:
            raise FakeLarkError(400, 99991664, "app access token invalid")
        app = fake.apps.get(tok.info.app_id)
        if app is None or not app.is_marketplace or tenant_key not in app.tenant_keys:
            raise FakeLarkError(400, 10003, "invalid param: tenant_key")
        return _ok("tenant_access_token", *fake.tokens.issue(app.app_id, "tenant", tenant_key))

    @fake.route("POST", TICKET_RESEND)
    async def ticket_resend(req: FakeRequest) -> HandlerResult:
        app = _app(fake, _params(req.body), marketplace=True)
        fake.push_app_ticket(app.app_id)
        return 200, {"code": 0, "msg": "ok"}

    @fake.route("GET", AUTHORIZE)
    async def authorize(req: FakeRequest) -> HandlerResult:
        user_id = req.headers.get("x-fake-user", "")
        if not user_id:
            raise FakeLarkError(401, 20001, "no signed-in user (send X-Fake-User)")
        url = "?" + urlencode(dict(req.query))
        return RedirectResponse(approve(fake, url, user_id), status_code=302)

    @fake.route("GET", USER_INFO)
    async def user_info(req: FakeRequest) -> HandlerResult:
        # chosen: the fake's user ids are open_ids; name and other ids are not modelled
        info = fake.require_token(req, kinds=("user",))
        return {"open_id": info.user_id, "tenant_key": info.tenant_key}

    @fake.route("POST", OAUTH_TOKEN)
    async def oauth_token(req: FakeRequest) -> HandlerResult:
        try:
            return 200, {"code": 0, **_oauth(fake, _params(req.body))}
        except _OAuthError as exc:
            return 400, {"code": exc.code, "error": exc.error, "error_description": exc.description}


def _oauth(fake: FakeLark, params: dict[str, Any]) -> dict[str, Any]:
    grant, client_id = params.get("grant_type"), params.get("client_id")
    secret = params.get("client_secret")
    if not (isinstance(grant, str) and isinstance(client_id, str) and isinstance(secret, str)):
        raise _OAuthError(
            20001, "invalid_request", "grant_type, client_id and client_secret are required"
        )
    app = fake.apps.get(client_id)
    if app is None or not hmac.compare_digest(secret.encode(), app.app_secret.encode()):
        raise _OAuthError(20002, "invalid_client", "client_id or client_secret is invalid")
    now, store = fake.now(), fake.tokens
    if grant == "authorization_code":
        code = params.get("code")
        if not isinstance(code, str) or not code:
            raise _OAuthError(20001, "invalid_request", "code is required")
        with store.lock:
            auth = store.codes.get(code)
            if auth is None or auth.app_id != app.app_id:
                raise _OAuthError(20003, "invalid_grant", "the authorization code is invalid")
            if auth.used:
                raise _OAuthError(20065, "invalid_grant", "the authorization code has been used")
            if now >= auth.expires_at:
                raise _OAuthError(20004, "invalid_grant", "the authorization code has expired")
            if auth.redirect_uri is not None and params.get("redirect_uri") != auth.redirect_uri:
                raise _OAuthError(20071, "invalid_grant", "redirect_uri does not match")
            if not _pkce_matches(fake, code, params.get("code_verifier")):
                raise _OAuthError(20003, "invalid_grant", "code_verifier does not match")
            auth.used = True
        user_id, tenant_key, scope = auth.user_id, app.tenant_keys[0], auth.scope
    elif grant == "refresh_token":
        refresh = params.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            raise _OAuthError(20001, "invalid_request", "refresh_token is required")
        with store.lock:
            old = store.refresh.get(refresh)
            if old is None or old.app_id != app.app_id:
                raise _OAuthError(20026, "invalid_grant", "the refresh token is invalid")
            if old.revoked:
                raise _OAuthError(20064, "invalid_grant", "the refresh token has been revoked")
            if old.used:
                raise _OAuthError(20073, "invalid_grant", "the refresh token has been used")
            if now >= old.expires_at:
                raise _OAuthError(20037, "invalid_grant", "the refresh token has expired")
            old.used = True
        user_id, tenant_key, scope = old.user_id, old.tenant_key, old.scope
    else:
        raise _OAuthError(20001, "unsupported_grant_type", f"unsupported grant_type {grant!r}")
    return store.issue_user(
        app.app_id, user_id, tenant_key, expires_in=7200, refresh_expires_in=2592000, scope=scope
    )
