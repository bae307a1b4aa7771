"""The console in headless Chromium (Debian's ``chromium``, driven by Playwright).

The service runs on uvicorn in a thread on a real socket, against the fake Lark server in
another thread. The browser signs in, adds an app, sends a test message and sees the token
turn valid, disables the app, replays a dead-lettered job and sees it sent at the fake,
asks a user to authorize an app and resends a card to a user granted through the OAuth
round trip, creates and revokes a key; a wrong key cannot sign in and a form without its CSRF token is
refused. Every page is checked with axe-core (no serious or critical violations) and
screenshotted (to ``LARK_SERVICE_CONSOLE_SHOTS`` or the test's tmp dir), on a laptop and
a phone viewport.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lark_service.domain import AppConfig
from lark_service.testing import FakeLark, serve_in_thread
from lark_service.testing.fake_lark.auth import approve
from tests.integration.service_thread import service_in_thread

CHROMIUM = Path("/usr/bin/chromium")
# axe-core 4.14.1 (MPL-2.0), vendored unmodified from its npm package (`npm pack axe-core`)
AXE = Path(__file__).with_name("axe.min.js")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (/usr/bin/chromium)"),
]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Stack:
    fake: FakeLark
    fake_url: str
    url: str
    admin_key: str
    shots: Path

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.admin_key}"}, timeout=10
        )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    fake = FakeLark(realtime=True)
    fake.add_app("cli_app0", "secret-cli_app0", name="App 0")
    fake.add_app("cli_console", "console-secret-value", name="Console app")
    admin_key = "lks_" + secrets.token_urlsafe(32)
    shots = Path(os.environ.get("LARK_SERVICE_CONSOLE_SHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    apps = [AppConfig(app_id="cli_app0", app_secret="secret-cli_app0", name="App 0")]
    with (
        serve_in_thread(fake) as running,
        service_in_thread(apps, running.base_url, admin_key) as url,
    ):
        yield Stack(fake, running.base_url, url, admin_key, shots)


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def check_accessibility(page: Any, name: str) -> None:
    """axe-core on the page as it is: no serious or critical violations."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: {bad}"


def snap(page: Any, stack: Stack, name: str) -> None:
    check_accessibility(page, name)
    page.screenshot(path=str(stack.shots / f"{name}.png"), full_page=True)


def sign_in(page: Any, stack: Stack, key: str) -> None:
    page.goto(f"{stack.url}/console/login")
    page.get_by_label("Admin API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_operator_console_end_to_end(stack: Stack, browser: Any) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # axe-core is injected as a script: the console's CSP (script-src none) would refuse it
    context = browser.new_context(viewport=LAPTOP, bypass_csp=True)
    page = context.new_page()

    # every page is behind sign-in; a wrong key cannot sign in
    page.goto(f"{stack.url}/console/jobs")
    assert page.url.endswith("/console/login")
    snap(page, stack, "login")
    sign_in(page, stack, "lks_" + secrets.token_urlsafe(32))
    assert page.url.endswith("/console/login")
    assert page.get_by_role("alert").inner_text() == "That is not a live admin API key."
    page.goto(f"{stack.url}/console/apps")
    assert page.url.endswith("/console/login")

    sign_in(page, stack, stack.admin_key)
    assert page.url.endswith("/console/apps")
    cookie = next(c for c in context.cookies() if c["name"] == "lark_console_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert stack.admin_key not in cookie["value"]

    # add an app against the fake; its token turns valid after a test message
    page.get_by_label("App ID").fill("cli_console")
    page.get_by_label("App secret").fill("console-secret-value")
    page.get_by_label("Name", exact=True).fill("Console app")
    page.get_by_label("Domain").fill(stack.fake_url)
    page.get_by_role("button", name="Add app").click()
    assert page.url.endswith("/console/apps/cli_console")
    assert "no token cached" in page.get_by_test_id("token").inner_text()
    page.get_by_label("Receiver", exact=True).fill("oc_console_chat")
    page.get_by_role("button", name="Send test message").click()
    assert "sent test message om_" in page.get_by_role("status").first.inner_text()
    assert page.get_by_test_id("token").inner_text().startswith("valid until")
    assert [m["app_id"] for m in stack.fake.messages] == ["cli_console"]
    assert "console-secret-value" not in page.content()
    issued = list(stack.fake.tokens.tokens)
    assert issued and not [t for t in issued if t in page.content()]
    snap(page, stack, "app")

    # disable it
    page.get_by_role("button", name="Disable app").click()
    assert page.get_by_test_id("enabled").inner_text() == "disabled"
    page.goto(f"{stack.url}/console/apps")
    assert page.get_by_test_id("enabled-cli_console").inner_text() == "disabled"
    assert page.get_by_test_id("token-cli_console").inner_text().startswith("valid until")
    snap(page, stack, "apps")

    # a form without its CSRF token is refused (and changes nothing)
    page.goto(f"{stack.url}/console/apps/cli_console")
    page.eval_on_selector(
        "form[action$='/enabled'] input[name=csrf_token]", "element => element.remove()"
    )
    page.get_by_role("button", name="Enable app").click()
    assert page.get_by_role("heading", name="Refused").is_visible()
    page.goto(f"{stack.url}/console/apps/cli_console")
    assert page.get_by_test_id("enabled").inner_text() == "disabled"
    refused = context.request.post(
        f"{stack.url}/console/apps/cli_console/enabled", form={"enabled": "true"}
    )
    assert refused.status == 403

    # a job that the fake fails until it is dead-lettered, then replayed from the console
    stack.fake.inject_fault("5xx", path_prefix="/open-apis/im/", count=10_000)
    with stack.api() as api:
        r = api.post(
            "/v1/messages",
            json={"receive_id": "oc_chat1", "msg_type": "text", "content": {"text": "later"}},
            headers={"Prefer": "respond-async"},
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        wait_until(lambda: api.get(f"/v1/jobs/{job_id}").json()["status"] == "dead", "dead job")
        # an event that fails verification is counted as rejected, with the reason
        api.post("/v1/events/cli_app0", content=b"not json")
    stack.fake.clear_faults()
    page.goto(f"{stack.url}/console/apps")
    last_error = page.get_by_test_id("error-cli_app0").inner_text()
    assert "ServerError" in last_error and "log id" in last_error
    snap(page, stack, "apps-errors")
    page.goto(f"{stack.url}/console/jobs")
    assert page.get_by_test_id("depth-dead").inner_text() == "1"
    assert page.get_by_test_id(f"status-{job_id}").inner_text() == "dead"
    assert "ServerError" in page.get_by_role("region", name="Dead letters").inner_text()
    snap(page, stack, "jobs-dead")
    page.get_by_role("button", name=f"Replay job {job_id}").click()
    assert "Replayed job" in page.get_by_role("status").first.inner_text()

    def sent() -> bool:
        page.goto(f"{stack.url}/console/jobs")
        return bool(page.get_by_test_id(f"status-{job_id}").inner_text() == "sent")

    wait_until(sent, "the replayed job to be sent")
    assert [m for m in stack.fake.messages if m.get("uuid") == job_id]
    assert page.get_by_test_id("depth-dead").inner_text() == "0"
    snap(page, stack, "jobs")

    page.goto(f"{stack.url}/console/events")
    rejections = page.get_by_role("region", name="Recent rejections").inner_text()
    assert "cli_app0" in rejections and "Error" in rejections
    assert page.get_by_test_id("rejected-cli_app0-unknown").inner_text() == "1"
    snap(page, stack, "events")

    # user grants: one granted through the OAuth round trip, one asked from the console
    with stack.api() as api, httpx.Client(timeout=10) as browser_like:
        link = api.post(
            "/v1/users/ou_granted/grant/authorize-url",
            json={"app_id": "cli_app0", "redirect_uri": f"{stack.url}/v1/oauth/callback"},
        )
        assert link.status_code == 200, link.text
        done = browser_like.get(approve(stack.fake, link.json()["url"], "ou_granted"))
        assert done.status_code == 200 and "is authorized" in done.text
    page.goto(f"{stack.url}/console/grants")
    assert page.get_by_test_id("grant-cli_app0-ou_granted").inner_text().startswith("active")
    page.get_by_label("User (open_id)").fill("ou_browser")
    page.get_by_role("button", name="Send authorization card").click()
    assert (
        "sent an authorization card to ou_browser" in page.get_by_role("status").first.inner_text()
    )
    assert page.get_by_test_id("grant-cli_app0-ou_browser").inner_text().startswith("pending")
    name = "Resend card to ou_granted for cli_app0"
    page.get_by_role("button", name=name).click()
    assert (
        "sent an authorization card to ou_granted" in page.get_by_role("status").first.inner_text()
    )
    cards = [m["receive_id"] for m in stack.fake.messages if m["receive_id"].startswith("ou_")]
    assert sorted(cards) == ["ou_browser", "ou_granted"]
    snap(page, stack, "grants")

    # create a key (shown once), then revoke it: it stops working at the API
    page.goto(f"{stack.url}/console/keys")
    page.get_by_label("Name").fill("ci-reader")
    page.get_by_label("send").uncheck()
    page.get_by_label("read").check()
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key").input_value()
    assert key.startswith("lks_")
    snap(page, stack, "keys-created")
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        reader = {"Authorization": f"Bearer {key}"}
        assert client.get(f"/v1/jobs/{job_id}", headers=reader).status_code == 200
        page.goto(f"{stack.url}/console/keys")
        assert key not in page.content()
        row = page.get_by_role("row").filter(has_text="ci-reader")
        row.get_by_role("button", name="Revoke").click()
        assert "Revoked key" in page.get_by_role("status").first.inner_text()
        assert "revoked" in row.get_by_text("revoked").inner_text()
        assert client.get(f"/v1/jobs/{job_id}", headers=reader).status_code == 401
    snap(page, stack, "keys")

    # a phone: one column, nothing wider than the screen
    phone = browser.new_context(viewport=PHONE, bypass_csp=True, is_mobile=True)
    phone.add_cookies(context.cookies())
    small = phone.new_page()
    for name in ("apps", "jobs", "events", "grants", "keys"):
        small.goto(f"{stack.url}/console/{name}")
        fits = "width => document.documentElement.scrollWidth <= width"
        try:  # a mobile viewport settles its layout a moment after load
            small.wait_for_function(fits, arg=PHONE["width"], timeout=3000)
        except PlaywrightTimeout:
            width = small.evaluate("() => document.documentElement.scrollWidth")
            raise AssertionError(f"{name} is {width}px wide on a phone") from None
        snap(small, stack, f"phone-{name}")
    phone.close()

    # reading needs no JavaScript: sign in and read the pages with it turned off
    plain = browser.new_context(viewport=LAPTOP, java_script_enabled=False)
    reader = plain.new_page()
    sign_in(reader, stack, stack.admin_key)
    assert reader.url.endswith("/console/apps")
    assert reader.get_by_test_id("enabled-cli_console").inner_text() == "disabled"
    reader.goto(f"{stack.url}/console/jobs")
    assert reader.get_by_test_id(f"status-{job_id}").inner_text() == "sent"
    reader.goto(f"{stack.url}/console/grants")
    assert reader.get_by_test_id("grant-cli_app0-ou_granted").inner_text().startswith("active")
    plain.close()

    # signing out ends the session
    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/console/login")
    page.goto(f"{stack.url}/console/apps")
    assert page.url.endswith("/console/login")

    if os.environ.get("LARK_SERVICE_CONSOLE_README_SHOT"):
        shutil.copy(stack.shots / "apps-errors.png", os.environ["LARK_SERVICE_CONSOLE_README_SHOT"])
    context.close()
