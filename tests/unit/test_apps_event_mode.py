"""``event_mode`` (webhook | websocket) where apps are managed: the HTTP admin API and the
environment."""

from __future__ import annotations

import pytest

from lark_service.application import CredentialPool
from lark_service.domain.apps import EventMode
from lark_service.domain.errors import ConfigError
from lark_service.testing.fake_lark import FakeLark

from .http_support import Api, api_fixture  # noqa: F401  (fixture)

pytestmark = pytest.mark.anyio
SECRET = "secret-cli_ws"


async def test_the_apps_api_shows_adds_and_changes_the_event_mode(api: Api, fake: FakeLark) -> None:
    one = (await api.client.get("/v1/apps/cli_app0", headers=api.admin)).json()
    assert one["event_mode"] == "webhook"

    fake.add_app("cli_ws", SECRET)
    body = {
        "app_id": "cli_ws",
        "app_secret": SECRET,
        "domain": api.services.pool.apps.get("cli_app0").domain,
        "event_mode": "websocket",
    }
    r = await api.client.post("/v1/apps", json=body, headers=api.admin)
    assert r.status_code == 201, r.text
    assert r.json()["event_mode"] == "websocket"
    assert api.services.pool.apps.get("cli_ws").event_mode is EventMode.WEBSOCKET

    r = await api.client.patch("/v1/apps/cli_ws", json={"event_mode": "webhook"}, headers=api.admin)
    assert r.status_code == 200 and r.json()["event_mode"] == "webhook"
    assert api.services.pool.apps.get("cli_ws").event_mode is EventMode.WEBHOOK

    bad = await api.client.patch(
        "/v1/apps/cli_ws", json={"event_mode": "carrier-pigeon"}, headers=api.admin
    )
    assert bad.status_code == 422, bad.text
    assert api.services.pool.apps.get("cli_ws").event_mode is EventMode.WEBHOOK


async def test_the_event_mode_comes_from_the_environment(pool: CredentialPool) -> None:
    env = {
        "LARK_APP_ID": "cli_env",
        "LARK_APP_SECRET": "e",
        "LARK_APP_EVENT_MODE": "websocket",
        "LARK_APPS__HR__APP_ID": "cli_hr",
        "LARK_APPS__HR__APP_SECRET": "h",
        "LARK_APPS__HR__EVENT_MODE": "websocket",
        "LARK_APPS__OPS__APP_ID": "cli_ops",
        "LARK_APPS__OPS__APP_SECRET": "o",
    }
    await pool.apps.load_env(env)
    assert pool.apps.get("cli_env").event_mode is EventMode.WEBSOCKET
    assert pool.apps.get("cli_hr").event_mode is EventMode.WEBSOCKET
    assert pool.apps.get("cli_ops").event_mode is EventMode.WEBHOOK


async def test_a_bad_event_mode_in_the_environment_names_the_app(pool: CredentialPool) -> None:
    env = {
        "LARK_APPS__HR__APP_ID": "cli_hr",
        "LARK_APPS__HR__APP_SECRET": "h",
        "LARK_APPS__HR__EVENT_MODE": "smoke-signals",
    }
    with pytest.raises(ConfigError, match=r"environment app HR: .*event_mode"):
        await pool.apps.load_env(env)
