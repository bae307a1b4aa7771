"""HTTP API: the admin routes under /v1/apps never return a secret."""

from __future__ import annotations

import pytest

from lark_service.testing.fake_lark import FakeLark

from .http_support import Api, api_fixture  # noqa: F401  (fixture)

pytestmark = pytest.mark.anyio
SECRET = "secret-cli_new"


async def test_list_and_get_apps(api: Api) -> None:
    r = await api.client.get("/v1/apps", headers=api.admin)
    assert r.status_code == 200
    assert [a["app_id"] for a in r.json()] == ["cli_app0", "cli_app1"]
    assert "secret" not in r.text
    one = (await api.client.get("/v1/apps/cli_app1", headers=api.admin)).json()
    assert one["name"] == "App 1" and one["enabled"] is True and "app_secret" not in one
    missing = await api.client.get("/v1/apps/cli_nope", headers=api.admin)
    assert missing.status_code == 404 and missing.json()["error"] == "UnknownAppError"


async def test_add_update_validate_delete(api: Api, fake: FakeLark) -> None:
    fake.add_app("cli_new", SECRET)
    body = {
        "app_id": "cli_new",
        "app_secret": SECRET,
        "name": "New",
        "domain": api.services.pool.apps.get("cli_app0").domain,
        "encrypt_key": "enc-key-value",
    }
    r = await api.client.post("/v1/apps", json=body, headers=api.admin)
    assert r.status_code == 201, r.text
    assert r.json()["has_encrypt_key"] is True and SECRET not in r.text
    assert "enc-key-value" not in r.text
    again = await api.client.post("/v1/apps", json=body, headers=api.admin)
    assert again.status_code == 422 and again.json()["error"] == "ConfigError"

    ok = await api.client.post("/v1/apps/cli_new/validate", headers=api.admin)
    assert ok.status_code == 200 and ok.json()["app_id"] == "cli_new"

    r = await api.client.patch(
        "/v1/apps/cli_new", json={"name": "Renamed", "enabled": False}, headers=api.admin
    )
    assert r.status_code == 200 and r.json()["name"] == "Renamed" and not r.json()["enabled"]
    r = await api.client.patch(
        "/v1/apps/cli_new", json={"app_secret": "wrong-secret", "enabled": True}, headers=api.admin
    )
    assert r.status_code == 200 and "wrong-secret" not in r.text
    bad = await api.client.post("/v1/apps/cli_new/validate", headers=api.admin)
    assert bad.status_code == 502 and bad.json()["error"] == "AuthError"
    assert "wrong-secret" not in bad.text

    r = await api.client.delete("/v1/apps/cli_new", headers=api.admin)
    assert r.status_code == 204
    assert (await api.client.get("/v1/apps/cli_new", headers=api.admin)).status_code == 404


async def test_bad_app_bodies(api: Api) -> None:
    r = await api.client.post("/v1/apps", json={"app_id": "cli_x"}, headers=api.admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "app_secret"
    r = await api.client.post(
        "/v1/apps", json={"app_id": "bad id!", "app_secret": "s"}, headers=api.admin
    )
    assert r.status_code == 422 and "app_id" in r.json()["detail"]
    r = await api.client.post(
        "/v1/apps",
        json={"app_id": "cli_x", "app_secret": "s", "domain": "ftp://nowhere"},
        headers=api.admin,
    )
    assert r.status_code == 422 and "domain" in r.json()["detail"]
    r = await api.client.patch("/v1/apps/cli_app0", json={"colour": "red"}, headers=api.admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour"
