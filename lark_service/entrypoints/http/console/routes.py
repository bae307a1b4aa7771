"""The console's pages and forms under ``/console`` (server-rendered, no JavaScript needed).

Every page but the sign-in form needs a session (see `sessions`); without one the browser is
sent to ``/console/login``. Every form carries the session's CSRF token, checked before the
form does anything; the sign-in form carries a pre-session token (double-submit cookie).
Forms answer with a 303 redirect to a page (post/redirect/get), except creating an API key,
whose page shows the new key this once and is never cached.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie, ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_303_SEE_OTHER

from lark_service.application.usecases.apps import AppChanges, NewApp
from lark_service.application.usecases.sending import SendCommand
from lark_service.domain.api_keys import SCOPES
from lark_service.domain.errors import LarkServiceError
from lark_service.entrypoints.http.console import views
from lark_service.entrypoints.http.console.grants import GrantRow, grant_rows
from lark_service.entrypoints.http.console.paths import STATIC_DIR
from lark_service.entrypoints.http.console.sessions import (
    COOKIE,
    CSRF_FIELD,
    LOGIN_COOKIE,
    ConsoleSession,
    ConsoleSessions,
    tokens_match,
)
from lark_service.entrypoints.http.console.templating import utc
from lark_service.entrypoints.http.routes_grants import CALLBACK_PATH
from lark_service.entrypoints.http.services import Services, ServicesDep

PREFIX = "/console"
RECEIVE_ID_TYPES = ("chat_id", "open_id", "user_id", "union_id", "email")


@dataclass(slots=True)
class Console:
    """The console's state in one app: its sessions and what its own actions saw."""

    sessions: ConsoleSessions
    activity: views.ConsoleActivity = field(default_factory=views.ConsoleActivity)


ConsoleDep = NamedDependency[Console]
SessionDep = NamedDependency[ConsoleSession]


def _secure(request: Request[Any, Any, Any]) -> bool:
    # behind a TLS-terminating proxy, run uvicorn with --proxy-headers so that this is https
    return request.url.scheme == "https"


def _cookie(request: Request[Any, Any, Any], key: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        path=PREFIX,
        max_age=max_age,
        httponly=True,
        secure=_secure(request),
        samesite="strict",
    )


def _see(path: str, **kw: Any) -> Redirect:
    return Redirect(PREFIX + path, status_code=HTTP_303_SEE_OTHER, **kw)


async def provide_session(
    request: Request[Any, Any, Any], console: ConsoleDep, services: ServicesDep
) -> ConsoleSession:
    """The signed-in session; 401 (sent on to the sign-in page) without a live one."""
    session = console.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise NotAuthorizedException("sign in")
    # a key revoked elsewhere (the HTTP API, another replica's console) ends its sessions
    live = any(k.key_id == session.key_id and not k.revoked for k in await services.keys.list())
    if not live:
        console.sessions.drop_key(session.key_id)
        raise NotAuthorizedException("sign in")
    return session


async def _form(request: Request[Any, Any, Any], session: ConsoleSession) -> Any:
    """The posted form once its CSRF token is checked (403 otherwise)."""
    form = await request.form()
    if not session.csrf_ok(form.get(CSRF_FIELD)):
        raise PermissionDeniedException("missing or wrong CSRF token")
    return form


def _page(
    name: str, session: ConsoleSession, active: str, status_code: int = 200, **context: Any
) -> Template:
    return Template(
        template_name=f"console/{name}",
        context={
            "session": session,
            "csrf": session.csrf_token,
            "flashes": session.take_flashes(),
            "active": active,
            **context,
        },
        status_code=status_code,
    )


# -- sign-in ---------------------------------------------------------------------------------


def _login_page(
    request: Request[Any, Any, Any], error: str = "", status_code: int = 200
) -> Template:
    token = secrets.token_urlsafe(32)
    return Template(
        template_name="console/login.html",
        context={"csrf": token, "error": error},
        cookies=[_cookie(request, LOGIN_COOKIE, token, 600)],
        status_code=status_code,
    )


@get("/login", name="console:login")
async def login_form(request: Request[Any, Any, Any], console: ConsoleDep) -> Response[Any]:
    if console.sessions.get(request.cookies.get(COOKIE)) is not None:
        return _see("/apps")
    return _login_page(request)


@post("/login", status_code=HTTP_303_SEE_OTHER)
async def login(
    request: Request[Any, Any, Any], console: ConsoleDep, services: ServicesDep
) -> Response[Any]:
    form = await request.form()
    if not tokens_match(request.cookies.get(LOGIN_COOKIE, ""), form.get(CSRF_FIELD)):
        raise PermissionDeniedException("missing or wrong CSRF token")
    key = str(form.get("api_key", "")).strip()
    found = await services.keys.authenticate(key) if key else None
    if found is None or "admin" not in found.scopes:
        return _login_page(request, "That is not a live admin API key.", status_code=401)
    session = console.sessions.create(key_id=found.key_id, key_name=found.name)
    return _see(
        "/apps",
        cookies=[
            _cookie(request, COOKIE, session.session_id, int(console.sessions.lifetime)),
            Cookie(key=LOGIN_COOKIE, value="", path=PREFIX, max_age=0, expires=0),
        ],
    )


@post("/logout", status_code=HTTP_303_SEE_OTHER)
async def logout(
    request: Request[Any, Any, Any], console: ConsoleDep, session: SessionDep
) -> Redirect:
    await _form(request, session)
    console.sessions.drop(session.session_id)
    return _see("/login", cookies=[Cookie(key=COOKIE, value="", path=PREFIX, max_age=0, expires=0)])


@get("/")
async def home(session: SessionDep) -> Redirect:
    return _see("/apps")


# -- apps ------------------------------------------------------------------------------------


@get("/apps")
async def apps_page(services: ServicesDep, console: ConsoleDep, session: SessionDep) -> Template:
    rows = await views.app_rows(services, console.activity)
    return _page("apps.html", session, "apps", apps=rows, now=services.pool.clock.now())


@get("/apps/{app_id:str}")
async def app_page(
    services: ServicesDep, console: ConsoleDep, session: SessionDep, app_id: FromPath[str]
) -> Template:
    rows = [r for r in await views.app_rows(services, console.activity) if r.app_id == app_id]
    if not rows:
        session.flash("error", f"No app {app_id!r}.")
        return _page("apps.html", session, "apps", 404, apps=[], now=services.pool.clock.now())
    return _page(
        "app.html",
        session,
        "apps",
        app=rows[0],
        now=services.pool.clock.now(),
        receive_id_types=RECEIVE_ID_TYPES,
    )


def _checked(form: Any, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


@post("/apps", status_code=HTTP_303_SEE_OTHER)
async def add_app(
    request: Request[Any, Any, Any], services: ServicesDep, session: SessionDep
) -> Redirect:
    form = await _form(request, session)
    fields = {
        "app_id": str(form.get("app_id", "")).strip(),
        "app_secret": str(form.get("app_secret", "")),
        "name": str(form.get("name", "")).strip(),
        "app_type": str(form.get("app_type", "self_built")),
        "domain": str(form.get("domain", "feishu")),
        "is_default": _checked(form, "is_default"),
    }
    try:
        new = msgspec.convert(fields, NewApp)
        view = await services.apps.add(new)
    except msgspec.ValidationError as exc:
        session.flash("error", f"The app was not added: {exc}")
        return _see("/apps")
    except LarkServiceError as exc:
        session.flash("error", f"The app was not added: {exc.msg}")
        return _see("/apps")
    session.flash("ok", f"Added app {view.app_id}. Its secret is stored and will not be shown.")
    return _see(f"/apps/{view.app_id}")


async def _change(
    services: Services, session: ConsoleSession, app_id: str, changes: AppChanges, done: str
) -> Redirect:
    try:
        await services.apps.update(app_id, changes)
    except LarkServiceError as exc:
        session.flash("error", f"{app_id}: {exc.msg}")
    else:
        session.flash("ok", done)
    return _see(f"/apps/{app_id}")


@post("/apps/{app_id:str}/enabled", status_code=HTTP_303_SEE_OTHER)
async def set_enabled(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    session: SessionDep,
    app_id: FromPath[str],
) -> Redirect:
    form = await _form(request, session)
    enabled = form.get("enabled") == "true"
    state = "enabled" if enabled else "disabled"
    return await _change(
        services, session, app_id, AppChanges(enabled=enabled), f"{app_id} is {state}."
    )


@post("/apps/{app_id:str}/default", status_code=HTTP_303_SEE_OTHER)
async def make_default(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    session: SessionDep,
    app_id: FromPath[str],
) -> Redirect:
    await _form(request, session)
    return await _change(
        services, session, app_id, AppChanges(is_default=True), f"{app_id} is the default app."
    )


@post("/apps/{app_id:str}/secret", status_code=HTTP_303_SEE_OTHER)
async def rotate_secret(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    session: SessionDep,
    app_id: FromPath[str],
) -> Redirect:
    form = await _form(request, session)
    secret = str(form.get("app_secret", ""))
    if not secret:
        session.flash("error", "Type the new app secret.")
        return _see(f"/apps/{app_id}")
    return await _change(
        services,
        session,
        app_id,
        AppChanges(app_secret=secret),
        f"{app_id}: secret replaced; its cached tokens were dropped.",
    )


@post("/apps/{app_id:str}/validate", status_code=HTTP_303_SEE_OTHER)
async def validate_app(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    console: ConsoleDep,
    session: SessionDep,
    app_id: FromPath[str],
) -> Redirect:
    await _form(request, session)
    try:
        await services.apps.validate(app_id)
    except LarkServiceError as exc:
        now = services.pool.clock.now()
        console.activity.record_error(app_id, exc, source="validate", at=now)
        session.flash("error", f"{app_id}: Lark refused the credentials: {exc}")
    else:
        console.activity.clear(app_id)
        session.flash("ok", f"{app_id}: Lark accepted the credentials.")
    return _see(f"/apps/{app_id}")


@post("/apps/{app_id:str}/test-message", status_code=HTTP_303_SEE_OTHER)
async def test_message(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    console: ConsoleDep,
    session: SessionDep,
    app_id: FromPath[str],
) -> Redirect:
    form = await _form(request, session)
    cmd = SendCommand(
        receive_id=str(form.get("receive_id", "")).strip(),
        receive_id_type=str(form.get("receive_id_type", "chat_id")),
        msg_type="text",
        content={"text": str(form.get("text", "")) or "Test message from the lark-service console"},
        app_id=app_id,
    )
    try:
        message = await services.sending.send(cmd)
    except LarkServiceError as exc:
        now = services.pool.clock.now()
        console.activity.record_error(app_id, exc, source="test message", at=now)
        session.flash("error", f"{app_id}: the test message was not sent: {exc}")
    else:
        session.flash("ok", f"{app_id}: sent test message {message.message_id}.")
    return _see(f"/apps/{app_id}")


# -- jobs ------------------------------------------------------------------------------------


@get("/jobs")
async def jobs_page(services: ServicesDep, session: SessionDep) -> Template:
    queue = services.sending.queue
    dead = await queue.dead_letters(limit=100)
    records = {j.job_id: await services.sending.jobs.get_job(j.job_id) for j in dead}
    return _page(
        "jobs.html",
        session,
        "jobs",
        depth=await queue.depth(),
        dead=[(job, records.get(job.job_id)) for job in dead],
        recent=await services.sending.jobs.list_jobs(limit=views.RECENT_JOBS),
    )


@post("/jobs/replay", status_code=HTTP_303_SEE_OTHER)
async def replay(
    request: Request[Any, Any, Any], services: ServicesDep, session: SessionDep
) -> Redirect:
    form = await _form(request, session)
    job_id = str(form.get("job_id", "")) or None
    try:
        count = await services.sending.replay_dead(job_id)
    except LarkServiceError as exc:
        session.flash("error", f"Replay failed: {exc.msg}")
    else:
        what = f"job {job_id}" if job_id else "all dead jobs"
        session.flash("ok", f"Replayed {what}: {count} back in the queue.")
    return _see("/jobs")


# -- events ----------------------------------------------------------------------------------


@get("/events")
async def events_page(services: ServicesDep, session: SessionDep) -> Template:
    return _page(
        "events.html",
        session,
        "events",
        events=views.event_counts(services),
        now=services.pool.clock.now(),
    )


# -- user grants -----------------------------------------------------------------------------


@get("/grants")
async def grants_page(services: ServicesDep, session: SessionDep) -> Template:
    grants = services.grants
    rows = [] if grants is None else await grant_rows(grants)
    by_app: dict[str, list[GrantRow]] = {}
    for row in rows:
        by_app.setdefault(row.app_id, []).append(row)
    return _page(
        "grants.html",
        session,
        "grants",
        configured=grants is not None,
        by_app=by_app,
        apps=[view.app_id for view in services.apps.list()],
        window=grants.expiring_within if grants is not None else 0.0,
        now=services.pool.clock.now(),
    )


def _described(exc: LarkServiceError) -> str:
    log_id = f" (log id {exc.log_id})" if exc.log_id else ""
    return f"{type(exc).__name__}: {exc.msg}{log_id}"


@post("/grants/resend", status_code=HTTP_303_SEE_OTHER)
async def resend_card(
    request: Request[Any, Any, Any], services: ServicesDep, session: SessionDep
) -> Redirect:
    form = await _form(request, session)
    grants = services.grants
    if grants is None:
        session.flash("error", "User grants are not configured in this service.")
        return _see("/grants")
    app_id = str(form.get("app_id", "")).strip() or None
    user_id = str(form.get("user_id", "")).strip()
    # like the HTTP API: without a configured public URL, the address the console is served at
    redirect = grants.redirect_uri or str(request.base_url).rstrip("/") + CALLBACK_PATH
    try:
        before = {s.session_id for s in await grants.sessions.pending_sessions(user_id=user_id)}
        card = await grants.request_user_authorization(
            user_id, app_id=app_id, redirect_uri=redirect
        )
    except LarkServiceError as exc:
        session.flash("error", f"No card was sent to {user_id or 'nobody'}: {_described(exc)}")
        return _see("/grants")
    if card.session_id in before:
        session.flash(
            "ok",
            f"{card.app_id}: the card sent to {user_id} at {utc(card.created_at)} is still "
            f"pending (its link works until {utc(card.expires_at)}); no second card was sent.",
        )
    else:
        session.flash("ok", f"{card.app_id}: sent an authorization card to {user_id}.")
    return _see("/grants")


# -- API keys --------------------------------------------------------------------------------


async def _keys_page(
    services: Services, session: ConsoleSession, created: Any = None, status_code: int = 200
) -> Template:
    return _page(
        "keys.html",
        session,
        "keys",
        status_code,
        keys=list(reversed(await services.keys.list())),
        scopes=SCOPES,
        created=created,
    )


@get("/keys")
async def keys_page(services: ServicesDep, session: SessionDep) -> Template:
    return await _keys_page(services, session)


@post("/keys", status_code=200)
async def create_key(
    request: Request[Any, Any, Any], services: ServicesDep, session: SessionDep
) -> Template:
    form = await _form(request, session)
    try:
        created = await services.keys.create(form.getall("scopes", []), name=form.get("name", ""))
    except LarkServiceError as exc:
        session.flash("error", f"No key was created: {exc.msg}")
        return await _keys_page(services, session, status_code=400)
    return await _keys_page(services, session, created=created)


@post("/keys/{key_id:str}/revoke", status_code=HTTP_303_SEE_OTHER)
async def revoke_key(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    console: ConsoleDep,
    session: SessionDep,
    key_id: FromPath[str],
) -> Redirect:
    await _form(request, session)
    try:
        await services.keys.revoke(key_id)
    except LarkServiceError as exc:
        session.flash("error", exc.msg)
        return _see("/keys")
    console.sessions.drop_key(key_id)
    if key_id == session.key_id:  # the operator revoked their own key: signed out
        return _see("/login")
    session.flash("ok", f"Revoked key {key_id}.")
    return _see("/keys")


# -- errors ----------------------------------------------------------------------------------


def to_login(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return Redirect(PREFIX + "/login", status_code=HTTP_303_SEE_OTHER)


def refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    engine = request.app.template_engine
    if engine is None:  # pragma: no cover - create_app registers the console's templates
        return Response("refused", status_code=403, media_type="text/plain")
    detail = exc.detail if isinstance(exc, HTTPException) else "refused"
    body = engine.get_template("console/refused.html").render(reason=detail)
    return Response(body, status_code=403, media_type="text/html")


SECURITY_HEADERS = [
    ResponseHeader(name="Cache-Control", value="no-store"),
    ResponseHeader(
        name="Content-Security-Policy",
        value=(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
    ),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
]


def console_router(services: Services, *, sessions: ConsoleSessions | None = None) -> Router:
    """The console at ``/console`` for ``services``, with its own in-memory sessions."""
    console = Console(sessions or ConsoleSessions(now=services.pool.clock.now))

    def provide_console() -> Console:
        return console

    return Router(
        PREFIX,
        route_handlers=[
            login_form,
            login,
            logout,
            home,
            apps_page,
            app_page,
            add_app,
            set_enabled,
            make_default,
            rotate_secret,
            validate_app,
            test_message,
            jobs_page,
            replay,
            events_page,
            grants_page,
            resend_card,
            keys_page,
            create_key,
            revoke_key,
            create_static_files_router(
                "/static", directories=[STATIC_DIR], include_in_schema=False, name="console:static"
            ),
        ],
        dependencies={
            "console": Provide(provide_console, sync_to_thread=False),
            "session": Provide(provide_session),
        },
        exception_handlers={401: to_login, 403: refused},
        response_headers=SECURITY_HEADERS,
        include_in_schema=False,
        tags=["console"],
    )
