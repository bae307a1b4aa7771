"""The console in process (Litestar's test client, the fake Lark in process): sign-in,
sessions, CSRF, the pages and their forms, and that no page shows a secret or a token."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from lark_service.adapters.memory.clock import ManualClock
from lark_service.application import CredentialPool
from lark_service.application.usecases.apps import AppChanges, NewApp
from lark_service.application.usecases.sending import SendCommand
from lark_service.domain.errors import LarkServiceError
from lark_service.entrypoints.http import create_app
from lark_service.entrypoints.http.console.sessions import ConsoleSessions, tokens_match
from lark_service.entrypoints.http.wiring import open_services
from lark_service.testing.fake_lark import FakeLark
from tests.unit.events_support import ENCRYPT_KEY, TOKEN, encrypted, event_v2, signed

from .console_support import Console, no_wait

pytestmark = pytest.mark.anyio


async def test_every_page_needs_sign_in(console: Console) -> None:
    for path in (
        "/console/",
        "/console/apps",
        "/console/jobs",
        "/console/events",
        "/console/grants",
        "/console/keys",
    ):
        r = await console.client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/console/login", path


async def test_sign_in_sets_a_strict_httponly_session_cookie(console: Console) -> None:
    r = await console.sign_in()
    assert r.status_code == 303 and r.headers["location"] == "/console/apps"
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and "session" in v)
    assert (
        "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/console" in cookie
    )
    assert "Secure" not in cookie  # plain http here; https gets Secure
    assert console.admin_key not in cookie
    page = await console.client.get("/console/apps")
    assert page.status_code == 200 and "cli_app0" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_the_session_cookie_is_secure_over_https(pool: CredentialPool) -> None:
    async with open_services(pool, sleep=no_wait) as services:
        admin = (await services.keys.create(["admin"])).key
        async with AsyncTestClient(app=create_app(services), base_url="https://console.local") as c:
            r = await Console(c, services, admin, ManualClock()).sign_in()
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and "session" in v)
    assert r.status_code == 303 and "Secure" in cookie


async def test_a_wrong_or_non_admin_key_cannot_sign_in(console: Console) -> None:
    r = await console.sign_in("lks_" + "x" * 43)
    assert r.status_code == 401 and "not a live admin API key" in r.text
    sender = (await console.services.keys.create(["send"], name="sender")).key
    assert (await console.sign_in(sender)).status_code == 401
    page = await console.client.get("/console/apps", follow_redirects=False)
    assert page.status_code == 303


async def test_sign_in_without_its_csrf_token_is_refused(console: Console) -> None:
    await console.client.get("/console/login")
    r = await console.client.post("/console/login", data={"api_key": console.admin_key})
    assert r.status_code == 403 and "Refused" in r.text


async def test_a_form_without_its_csrf_token_is_refused(console: Console) -> None:
    await console.sign_in()
    r = await console.client.post(
        "/console/apps/cli_app0/enabled", data={"enabled": "false"}, follow_redirects=False
    )
    assert r.status_code == 403
    r = await console.client.post(
        "/console/apps/cli_app0/enabled",
        data={"enabled": "false", "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert console.services.apps.get("cli_app0").enabled


async def test_add_app_send_test_message_and_disable(console: Console, fake: FakeLark) -> None:
    fake.add_app("cli_new", "the-secret-value", name="New")
    await console.sign_in()
    r = await console.post(
        "/console/apps", app_id="cli_new", app_secret="the-secret-value", name="New"
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/apps/cli_new"
    page = await console.client.get("/console/apps/cli_new")
    assert "no token cached" in page.text and "the-secret-value" not in page.text
    r = await console.post(
        "/console/apps/cli_new/test-message", receive_id="oc_chat1", receive_id_type="chat_id"
    )
    page = await console.client.get("/console/apps/cli_new")
    assert "sent test message om_" in page.text and "valid until" in page.text
    assert [m["app_id"] for m in fake.messages] == ["cli_new"]
    issued = list(fake.tokens.tokens)
    assert issued  # the fake issued a token; it is not on the page
    assert not [token for token in issued if token in page.text]
    await console.post("/console/apps/cli_new/enabled", enabled="false")
    assert not console.services.apps.get("cli_new").enabled
    page = await console.client.get("/console/apps")
    assert 'data-testid="enabled-cli_new">disabled' in page.text


async def test_validate_records_the_lark_error_with_its_log_id(
    console: Console, fake: FakeLark
) -> None:
    fake.add_app("cli_bad", "right")
    await console.sign_in()
    await console.post("/console/apps", app_id="cli_bad", app_secret="wrong")
    await console.post("/console/apps/cli_bad/validate")
    page = await console.client.get("/console/apps")
    assert "AuthError" in page.text and "log id" in page.text and "wrong" not in page.text
    await console.post("/console/apps/cli_bad/secret", app_secret="right")
    await console.post("/console/apps/cli_bad/validate")
    page = await console.client.get("/console/apps/cli_bad")
    assert "Lark accepted the credentials" in page.text


async def test_bad_app_is_reported_not_added(console: Console) -> None:
    await console.sign_in()
    await console.post("/console/apps", app_id="cli_app0", app_secret="s")
    page = await console.client.get("/console/apps")
    assert "The app was not added" in page.text


async def test_dead_job_is_listed_and_replayed(console: Console, fake: FakeLark) -> None:
    await console.sign_in()
    fake.inject_fault("5xx", path_prefix="/open-apis/im/", count=1000)
    job = await console.services.sending.enqueue(
        SendCommand(receive_id="oc_chat1", msg_type="text", content={"text": "hi"})
    )
    queue: Any = console.services.sending.queue
    await queue.join()
    page = await console.client.get("/console/jobs")
    assert f"Replay job {job.job_id}" in page.text and "ServerError" in page.text
    assert 'data-testid="depth-dead">1<' in page.text
    fake.clear_faults()
    await console.post("/console/jobs/replay", job_id=job.job_id)
    await queue.join()
    page = await console.client.get("/console/jobs")
    assert f'data-testid="status-{job.job_id}">sent' in page.text
    assert "No dead letters." in page.text
    assert [m.get("uuid") for m in fake.messages] == [job.job_id]


async def test_key_shown_once_then_revoked(console: Console) -> None:
    await console.sign_in()
    r = await console.post("/console/keys", name="billing", scopes="send")
    assert r.status_code == 200
    match = re.search(r'data-testid="new-key" readonly value="(lks_[^"]+)"', r.text)
    assert match is not None
    key = match.group(1)
    found = await console.services.keys.authenticate(key)
    assert found is not None and found.scopes == ("send",)
    page = await console.client.get("/console/keys")
    assert key not in page.text and found.key_id in page.text
    await console.post(f"/console/keys/{found.key_id}/revoke")
    assert await console.services.keys.authenticate(key) is None
    page = await console.client.get("/console/keys")
    assert f'data-testid="key-status-{found.key_id}"><span class="badge off">revoked' in page.text


async def test_revoking_the_sessions_key_signs_out(console: Console) -> None:
    await console.sign_in()
    own = next(k for k in await console.services.keys.list() if k.name == "operator")
    r = await console.post(f"/console/keys/{own.key_id}/revoke")
    assert r.headers["location"] == "/console/login"
    r = await console.client.get("/console/apps", follow_redirects=False)
    assert r.status_code == 303


async def test_logout_ends_the_session(console: Console) -> None:
    await console.sign_in()
    r = await console.post("/console/logout")
    assert r.status_code == 303
    r = await console.client.get("/console/apps", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"


async def test_apps_page_counts_calls_and_errors_of_the_last_hour(
    console: Console, fake: FakeLark
) -> None:
    await console.sign_in()
    for n in range(3):
        await console.post(
            "/console/apps/cli_app0/test-message", receive_id=f"oc_c{n}", receive_id_type="chat_id"
        )
    fake.inject_fault("5xx", path_prefix="/open-apis/im/", count=1000)
    await console.post(
        "/console/apps/cli_app0/test-message", receive_id="oc_c9", receive_id_type="chat_id"
    )
    fake.clear_faults()
    page = await console.client.get("/console/apps")
    assert 'data-testid="calls-cli_app0">4 / <span class="err">1</span>' in page.text
    assert 'data-testid="calls-cli_app1">0 / 0' in page.text
    console.clock.advance(1800)
    await console.sign_in()  # the console session has been idle too long
    await console.post(
        "/console/apps/cli_app0/test-message", receive_id="oc_c5", receive_id_type="chat_id"
    )
    console.clock.advance(1801)  # the first four calls are now more than an hour old
    await console.sign_in()
    page = await console.client.get("/console/apps/cli_app0")
    assert 'data-testid="calls">1 / 0' in page.text
    console.clock.advance(3600)
    await console.sign_in()
    page = await console.client.get("/console/apps")
    assert 'data-testid="calls-cli_app0">0 / 0' in page.text
    assert "Grafana" not in page.text


async def test_events_page_counts_received_and_shows_the_rejection_reason(
    console: Console,
) -> None:
    await console.services.apps.update(
        "cli_app0", AppChanges(encrypt_key=ENCRYPT_KEY, verification_token=TOKEN)
    )
    now = console.clock.now()
    body = encrypted(event_v2(app_id="cli_app0", event_id="ev-1"))
    ok = await console.client.post(
        "/v1/events/cli_app0", content=body, headers=signed(body, timestamp=now)
    )
    assert ok.status_code == 200, ok.text
    forged = signed(body, timestamp=now, nonce="n2") | {"X-Lark-Signature": "0" * 64}
    bad = await console.client.post("/v1/events/cli_app0", content=body, headers=forged)
    assert bad.status_code == 401
    await console.sign_in()
    page = await console.client.get("/console/events")
    assert 'data-testid="received-cli_app0-im.message.receive_v1">1<' in page.text
    assert 'data-testid="rejected-cli_app0-unknown"><span class="err">1<' in page.text
    assert "BadSignatureError" in page.text and "does not match the body" in page.text
    assert ENCRYPT_KEY not in page.text and TOKEN not in page.text
    console.clock.advance(3660)
    await console.sign_in()
    page = await console.client.get("/console/events")
    assert "No events in the last hour." in page.text
    assert "No event was rejected in the last hour." in page.text


def test_sessions_expire_when_idle_or_too_old() -> None:
    clock = ManualClock()
    sessions = ConsoleSessions(now=clock.now, lifetime=100.0, idle=30.0)
    first = sessions.create(key_id="k1", key_name="op")
    second = sessions.create(key_id="k1", key_name="op")
    assert first.session_id != second.session_id and first.csrf_token != second.csrf_token
    clock.advance(20)
    assert sessions.get(first.session_id) is first  # seen: its idle timer restarts
    clock.advance(20)
    assert sessions.get(first.session_id) is first
    assert sessions.get(second.session_id) is None  # idle for 40 s
    for _ in range(4):
        clock.advance(25)
        sessions.get(first.session_id)
    assert sessions.get(first.session_id) is None  # older than its lifetime
    assert len(sessions) == 0


def test_revoking_a_key_ends_its_sessions_and_csrf_tokens_must_match() -> None:
    sessions = ConsoleSessions(now=ManualClock().now)
    mine = sessions.create(key_id="k1", key_name="")
    other = sessions.create(key_id="k2", key_name="")
    sessions.drop_key("k1")
    assert sessions.get(mine.session_id) is None and sessions.get(other.session_id) is other
    assert other.csrf_ok(other.csrf_token)
    assert not other.csrf_ok(None) and not other.csrf_ok("") and not other.csrf_ok(mine.csrf_token)
    assert not tokens_match("", "")


async def test_unknown_app_page_is_404_and_make_default_moves_the_default(
    console: Console,
) -> None:
    await console.sign_in()
    r = await console.client.get("/console/apps/cli_nope")
    assert r.status_code == 404 and "No app &#39;cli_nope&#39;" in r.text
    await console.post("/console/apps/cli_app1/default")
    assert console.services.apps.get("cli_app1").is_default
    assert not console.services.apps.get("cli_app0").is_default


async def test_a_token_fetch_failure_outside_the_console_is_the_last_error(
    console: Console, fake: FakeLark
) -> None:
    fake.add_app("cli_bad", "right")
    await console.services.apps.add(NewApp(app_id="cli_bad", app_secret="wrong"))
    with pytest.raises(LarkServiceError):
        await console.services.sending.send(
            SendCommand(
                receive_id="oc_c1", msg_type="text", content={"text": "x"}, app_id="cli_bad"
            )
        )
    await console.sign_in()
    page = await console.client.get("/console/apps")
    assert re.search(r'data-testid="error-cli_bad">\s*<span class="err">AuthError', page.text)
    assert "tenant token fetch" in page.text and "wrong" not in page.text
    assert 'data-testid="calls-cli_bad">1 / <span class="err">1</span>' in page.text
