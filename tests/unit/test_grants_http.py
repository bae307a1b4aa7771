"""The grant routes: authorization link, Lark's redirect, status, card request, revoke."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark.auth import approve

from .http_support import Api, api_fixture

__all__ = ["api_fixture"]

pytestmark = pytest.mark.anyio

USER = "ou_alice"
GRANT = f"/v1/users/{USER}/grant"


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_authorize_callback_status_and_revoke(api: Api, fake: FakeLark) -> None:
    r = await api.client.post(
        GRANT + "/authorize-url", json={"app_id": "cli_app0"}, headers=api.send
    )
    assert r.status_code == 200, r.text
    link = r.json()
    assert link["user_id"] == USER and link["app_id"] == "cli_app0"
    redirect = approve(fake, link["url"], USER)
    assert urlsplit(redirect).path == "/v1/oauth/callback"  # this service's own address

    page = await api.client.get(local(redirect))
    assert page.status_code == 200 and "Authorization done" in page.text
    assert page.headers["content-type"].startswith("text/html")
    again = await api.client.get(local(redirect))
    assert again.status_code == 400  # a state completes once

    r = await api.client.get(GRANT, params={"app_id": "cli_app0"}, headers=api.read)
    assert r.status_code == 200 and r.json()["authorized"] is True
    stored = await api.services.pool.grant_store.load_user_token("cli_app0", USER)
    assert stored is not None
    assert stored.granted_at is not None and r.json()["granted_at"] == stored.granted_at
    assert stored.access_token not in r.text and stored.refresh_token not in r.text

    r = await api.client.delete(GRANT, params={"app_id": "cli_app0"}, headers=api.read)
    assert r.status_code == 403
    r = await api.client.delete(GRANT, params={"app_id": "cli_app0"}, headers=api.send)
    assert r.status_code == 204
    r = await api.client.get(GRANT, params={"app_id": "cli_app0"}, headers=api.read)
    assert r.json()["authorized"] is False and r.json()["granted_at"] is None


async def test_callback_refuses_bad_state_and_reports_a_decline(api: Api, fake: FakeLark) -> None:
    r = await api.client.get("/v1/oauth/callback", params={"code": "c", "state": "forged.x"})
    assert r.status_code == 400 and "Authorization failed" in r.text
    r = await api.client.post(GRANT + "/authorize-url", json={}, headers=api.send)
    declined = approve(fake, r.json()["url"], USER, deny=True)
    page = await api.client.get(local(declined))
    assert page.status_code == 400 and "declined" in page.text
    assert [r for r in fake.requests if r.path.endswith("/oauth/token")] == []


async def test_request_sends_one_card(api: Api, fake: FakeLark) -> None:
    for _ in range(2):
        r = await api.client.post(
            GRANT + "/request",
            json={"app_id": "cli_app0", "redirect_uri": "https://svc.example/v1/oauth/callback"},
            headers=api.send,
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "pending" and r.json()["message_id"]
    cards = [m for m in fake.messages if m["receive_id"] == USER]
    assert len(cards) == 1 and cards[0]["msg_type"] == "interactive"


async def test_grant_routes_need_a_key_and_valid_input(api: Api) -> None:
    r = await api.client.post(GRANT + "/authorize-url", json={})
    assert r.status_code == 401
    r = await api.client.post(
        GRANT + "/authorize-url", json={"redirect_uri": "ftp://x"}, headers=api.send
    )
    assert r.status_code == 422 and "redirect_uri" in r.text
    r = await api.client.post(GRANT + "/authorize-url", json={"nope": 1}, headers=api.send)
    assert r.status_code in (400, 422) and "nope" in r.text


async def test_upkeep_expires_prunes_and_prompts(api: Api, fake: FakeLark) -> None:
    r = await api.client.post(GRANT + "/authorize-url", json={}, headers=api.send)
    assert r.status_code == 200
    r = await api.client.post("/v1/grants/upkeep", headers=api.send)
    assert r.status_code == 403  # admin only
    r = await api.client.post("/v1/grants/upkeep", headers=api.admin)
    assert r.status_code == 200
    assert r.json() == {"expired": 0, "pruned": 0, "prompted": 0}
