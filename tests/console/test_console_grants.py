"""The user grants page: each state from grants made through the real `GrantService` (OAuth
at the in-process fake Lark, in-memory stores, a manual clock), resending the card, CSRF,
and that no page ever shows a token."""

from __future__ import annotations

import dataclasses
import re

import pytest
from litestar.testing import AsyncTestClient

from lark_service.application.usecases.grants import GrantService
from lark_service.domain.tokens import UserToken
from lark_service.entrypoints.http import create_app
from lark_service.entrypoints.http.console.templating import duration
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark.auth import approve
from tests.unit.grants_support import redirect_params

from .console_support import Console

pytestmark = pytest.mark.anyio
APP = "cli_app0"
REDIRECT = "https://svc.example/v1/oauth/callback"
DAY = 86400.0
PAGES = ("apps", f"apps/{APP}", "jobs", "events", "grants", "keys")


def grants_of(console: Console) -> GrantService:
    grants = console.services.grants
    assert grants is not None
    return grants


async def authorize(console: Console, fake: FakeLark, user_id: str) -> None:
    """The OAuth round trip: link, the user approves at the fake, the callback completes."""
    grants = grants_of(console)
    link, _ = await grants.begin(APP, user_id, REDIRECT)
    code, state = redirect_params(approve(fake, link.url, user_id))
    await grants.complete(code, state)


def cards_to(fake: FakeLark, user_id: str) -> int:
    return sum(1 for m in fake.messages if m.get("receive_id") == user_id)


def state_of(html: str, user_id: str, app_id: str = APP) -> str:
    found = re.search(
        rf'data-testid="grant-{app_id}-{user_id}"><span class="badge[^"]*">(\w+)<', html
    )
    assert found is not None, f"no row for {user_id}"
    return found.group(1)


async def seed_every_state(console: Console, fake: FakeLark) -> None:
    """ou_lapsed's refresh token ran out, ou_expiring's lapses in 2.5 days, ou_active was
    granted just now, ou_pending has a card and no grant, and ou_refused's refresh was
    refused (token care sent a card)."""
    await authorize(console, fake, "ou_lapsed")
    console.clock.advance(5 * DAY)
    await authorize(console, fake, "ou_expiring")
    console.clock.advance(27.5 * DAY)  # refresh tokens last 30 days at the fake
    await authorize(console, fake, "ou_active")
    await grants_of(console).request_user_authorization("ou_pending", app_id=APP)
    await grants_of(console).grant_lapsed(APP, "ou_refused", "refused")


def granted_of(html: str, user_id: str, app_id: str = APP) -> str:
    found = re.search(rf'data-testid="granted-{app_id}-{user_id}">(.*?)</td>', html)
    assert found is not None, f"no row for {user_id}"
    return re.sub(r"<[^>]+>", "", found.group(1))


@pytest.fixture
def with_redirect(console: Console) -> None:
    grants_of(console).redirect_uri = REDIRECT


async def test_every_state_is_listed(console: Console, fake: FakeLark, with_redirect: None) -> None:
    await seed_every_state(console, fake)
    await console.sign_in()
    page = await console.client.get("/console/grants")
    assert page.status_code == 200
    states = {
        user: state_of(page.text, user)
        for user in ("ou_lapsed", "ou_expiring", "ou_active", "ou_pending", "ou_refused")
    }
    assert states == {
        "ou_lapsed": "lapsed",
        "ou_expiring": "expiring",
        "ou_active": "active",
        "ou_pending": "pending",
        "ou_refused": "lapsed",
    }
    assert "the refresh token has expired" in page.text
    assert "(in 2 days 12 h)" in page.text  # ou_expiring's refresh token
    assert "lapses within 3 days" in page.text
    assert "could not be refreshed; card sent" in page.text
    assert 'aria-current="page">User grants' in page.text
    assert f'<h2 id="grants-{APP}">{APP}</h2>' in page.text


async def test_when_each_user_granted_is_shown_in_utc(
    console: Console, fake: FakeLark, with_redirect: None
) -> None:
    await seed_every_state(console, fake)
    # a grant kept before its time was recorded (a database migrated to 0006)
    now = console.clock.now()
    legacy = UserToken(
        app_id=APP,
        user_id="ou_legacy",
        access_token="u-legacy",
        expires_at=now + 3600,
        refresh_token="ur-legacy",
        refresh_expires_at=now + 20 * DAY,
    )
    await grants_of(console).grants.save_user_token(legacy)
    await console.sign_in()
    page = await console.client.get("/console/grants")
    assert '<th scope="col">Granted</th>' in page.text
    shown = {
        user: granted_of(page.text, user)
        for user in ("ou_lapsed", "ou_expiring", "ou_active", "ou_pending", "ou_refused")
    }
    assert shown == {
        "ou_lapsed": "2026-09-21 14:13:20 UTC",  # START
        "ou_expiring": "2026-09-26 14:13:20 UTC",  # 5 days later
        "ou_active": "2026-10-24 02:13:20 UTC",  # 32.5 days later
        "ou_pending": "—",  # no grant yet
        "ou_refused": "—",  # no grant any more
    }
    assert state_of(page.text, "ou_legacy") == "active"
    assert granted_of(page.text, "ou_legacy") == "unknown"


async def test_resend_sends_a_card_once_per_open_session(
    console: Console, fake: FakeLark, with_redirect: None
) -> None:
    await seed_every_state(console, fake)
    await console.sign_in()
    assert cards_to(fake, "ou_expiring") == 0
    r = await console.post("/console/grants/resend", app_id=APP, user_id="ou_expiring")
    assert r.status_code == 303 and r.headers["location"] == "/console/grants"
    page = await console.client.get("/console/grants")
    assert f"{APP}: sent an authorization card to ou_expiring." in page.text
    assert cards_to(fake, "ou_expiring") == 1
    # a card is still open: asking again sends no second one, and says so
    await console.post("/console/grants/resend", app_id=APP, user_id="ou_expiring")
    page = await console.client.get("/console/grants")
    assert "is still pending" in page.text and "no second card was sent" in page.text
    assert cards_to(fake, "ou_expiring") == 1
    # once the link has expired, the card is sent again
    console.clock.advance(grants_of(console).session_ttl + 1)
    await console.sign_in()
    await console.post("/console/grants/resend", app_id=APP, user_id="ou_pending")
    assert cards_to(fake, "ou_pending") == 2


async def test_asking_a_new_user_and_the_typed_errors(console: Console, fake: FakeLark) -> None:
    await console.sign_in()
    # no redirect URI is configured: like the HTTP API, the console's own address is used
    await console.post("/console/grants/resend", app_id="cli_app1", user_id="ou_new")
    page = await console.client.get("/console/grants")
    assert "cli_app1: sent an authorization card to ou_new." in page.text
    assert state_of(page.text, "ou_new", "cli_app1") == "pending"
    assert [m["app_id"] for m in fake.messages if m.get("receive_id") == "ou_new"] == ["cli_app1"]
    await console.post("/console/grants/resend", app_id="cli_nope", user_id="ou_new")
    page = await console.client.get("/console/grants")
    assert "No card was sent to ou_new: UnknownAppError" in page.text
    await console.post("/console/grants/resend", app_id=APP, user_id=" ")
    page = await console.client.get("/console/grants")
    assert "No card was sent to nobody: ConfigError: user_id" in page.text
    fake.inject_fault("5xx", path_prefix="/open-apis/im/", count=1000)
    await console.post("/console/grants/resend", app_id=APP, user_id="ou_down")
    page = await console.client.get("/console/grants")
    assert "No card was sent to ou_down: ServerError" in page.text


async def test_resend_without_its_csrf_token_is_refused(
    console: Console, fake: FakeLark, with_redirect: None
) -> None:
    await console.sign_in()
    for data in ({}, {"csrf_token": "forged"}):
        r = await console.client.post(
            "/console/grants/resend",
            data={"app_id": APP, "user_id": "ou_x", **data},
            follow_redirects=False,
        )
        assert r.status_code == 403
    assert cards_to(fake, "ou_x") == 0
    assert await grants_of(console).sessions.pending_sessions(user_id="ou_x") == []


async def test_no_page_shows_a_token_or_a_secret(
    console: Console, fake: FakeLark, with_redirect: None
) -> None:
    await seed_every_state(console, fake)
    await console.sign_in()
    await console.post(
        "/console/apps/cli_app0/test-message", receive_id="oc_c1", receive_id_type="chat_id"
    )
    store = grants_of(console).grants
    secrets = {"secret-cli_app0", "secret-cli_app1", *fake.tokens.tokens}
    for user in ("ou_lapsed", "ou_expiring", "ou_active"):
        token = await store.load_user_token(APP, user)
        assert token is not None and token.refresh_token
        secrets |= {token.access_token, token.refresh_token}
    assert len(secrets) > 8
    for path in PAGES:
        page = await console.client.get(f"/console/{path}")
        assert page.status_code == 200, path
        assert not [s for s in secrets if s in page.text], path


async def test_without_grants_the_page_says_so(console: Console) -> None:
    services = dataclasses.replace(console.services, grants=None)
    async with AsyncTestClient(app=create_app(services), base_url="http://console.local") as c:
        other = Console(c, services, console.admin_key, console.clock)
        await other.sign_in()
        page = await c.get("/console/grants")
        assert "User grants (OAuth) are not configured in this service." in page.text
        await other.post("/console/grants/resend", app_id=APP, user_id="ou_x")
        page = await c.get("/console/grants")
        assert "User grants are not configured in this service." in page.text


def test_durations_read_in_days_beyond_two_days() -> None:
    assert duration(30) == "under a minute"
    assert duration(119 * 60 + 5) == "1 h 59 min"
    assert duration(3 * DAY) == "3 days"
    assert duration(29 * DAY + 23 * 3600 + 120) == "29 days 23 h"
