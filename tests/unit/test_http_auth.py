"""HTTP API: bearer API keys and their scopes, and the admin key from the environment."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from lark_service.application import CredentialPool
from lark_service.domain.api_keys import hash_api_key
from lark_service.entrypoints.http import create_app
from lark_service.entrypoints.http.wiring import open_services

from .http_support import Api, api_fixture, bearer  # noqa: F401  (fixture)

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"
SEND = {"receive_id": "oc_chat1", "msg_type": "text", "content": {"text": "hi"}}


async def test_no_key_is_401_with_bearer_challenge(api: Api) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        r = await api.client.post("/v1/messages", json=SEND, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["status"] == 401


async def test_unknown_and_revoked_keys_are_401(api: Api) -> None:
    r = await api.client.get("/v1/apps", headers=bearer("lks_not-a-key"))
    assert r.status_code == 401
    made = await api.services.keys.create(["read"])
    assert (await api.client.get("/v1/jobs/x", headers=bearer(made.key))).status_code == 404
    await api.services.keys.revoke(made.key_id)
    assert (await api.client.get("/v1/jobs/x", headers=bearer(made.key))).status_code == 401


async def test_wrong_scope_is_403(api: Api) -> None:
    r = await api.client.post("/v1/messages", json=SEND, headers=api.read)
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    assert "send" in r.json()["detail"]
    assert (await api.client.get("/v1/apps", headers=api.send)).status_code == 403
    assert (await api.client.get("/v1/apps", headers=api.read)).status_code == 403
    assert (await api.client.get("/v1/jobs/none", headers=api.send)).status_code == 403


async def test_admin_key_may_call_every_scope(api: Api) -> None:
    assert (await api.client.get("/v1/apps", headers=api.admin)).status_code == 200
    assert (await api.client.get("/v1/jobs/none", headers=api.admin)).status_code == 404
    r = await api.client.post("/v1/messages", json=SEND, headers=api.admin)
    assert r.status_code == 200


async def test_keys_are_stored_hashed_and_listed_without_the_key(api: Api) -> None:
    made = await api.services.keys.create(["send", "read", "send"], name="ci")
    assert made.key.startswith("lks_") and len(made.key) > 40 and made.scopes == ("send", "read")
    stored = {k.key_id: k for k in await api.services.keys.list()}[made.key_id]
    assert stored.key_hash == hash_api_key(made.key) and made.key not in repr(stored)


async def test_admin_key_from_the_environment(pool: CredentialPool) -> None:
    key = "provisioned-admin-key-0123456789"
    async with open_services(pool, admin_key=key) as services:
        async with AsyncTestClient(app=create_app(services)) as client:
            assert (await client.get("/v1/apps", headers=bearer(key))).status_code == 200
        # a second start finds it and adds nothing
        assert not await services.keys.ensure(key)
        assert len(await services.keys.list()) == 1


async def test_short_provided_admin_key_is_refused(pool: CredentialPool) -> None:
    from lark_service.domain.errors import ConfigError

    with pytest.raises(ConfigError, match="at least"):
        async with open_services(pool, admin_key="short"):
            pass
