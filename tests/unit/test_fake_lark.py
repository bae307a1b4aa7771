"""The fake Lark server reproduces Lark's auth wire format, envelopes, faults and controls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.responses import PlainTextResponse

from lark_service.testing.fake_lark import FakeLark, FakeLarkError, FakeRequest
from lark_service.testing.fake_lark import __main__ as fake_main
from lark_service.testing.fake_lark import server as fake_server
from lark_service.testing.virtual_time import loop_clock

T0 = 1_700_000_000.0
TENANT = "/open-apis/auth/v3/tenant_access_token/internal"
APP = "/open-apis/auth/v3/app_access_token/internal"
OAUTH = "/open-apis/authen/v2/oauth/token"
BOT = "/open-apis/bot/v3/info"
MSG = "/open-apis/im/v1/messages"


@pytest.fixture
def fake() -> FakeLark:
    f = FakeLark(start_time=T0)
    f.add_app("cli_a", "secret_a", name="App A")
    f.add_app("cli_b", "secret_b", name="App B")
    f.add_app("cli_m", "secret_m", app_type="marketplace", tenant_keys=("tk1", "tk2"))
    return f


@pytest.fixture
async def client(fake: FakeLark) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as c:
        yield c


async def tenant_token(client: httpx.AsyncClient, app_id: str = "cli_a") -> str:
    secret = {"cli_a": "secret_a", "cli_b": "secret_b"}[app_id]
    r = await client.post(TENANT, json={"app_id": app_id, "app_secret": secret})
    assert r.status_code == 200, r.text
    token: str = r.json()["tenant_access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def send_text(
    client: httpx.AsyncClient, token: str, *, uuid: str | None = None, **over: Any
) -> httpx.Response:
    body: dict[str, Any] = {"receive_id": "oc_chat", "msg_type": "text"}
    body["content"] = json.dumps({"text": "hi"})
    if uuid:
        body["uuid"] = uuid
    body.update(over)
    params = {"receive_id_type": over.pop("receive_id_type", "chat_id")}
    body.pop("receive_id_type", None)
    return await client.post(MSG, params=params, json=body, headers=bearer(token))


# --- app and tenant tokens ---------------------------------------------------------------


@pytest.mark.anyio
async def test_tenant_token_reply_is_not_wrapped_in_data(client: httpx.AsyncClient) -> None:
    r = await client.post(TENANT, json={"app_id": "cli_a", "app_secret": "secret_a"})
    body = r.json()
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.headers["x-tt-logid"]
    assert body["code"] == 0 and body["msg"] == "ok" and body["expire"] == 7200
    assert body["tenant_access_token"].startswith("t-") and "data" not in body


@pytest.mark.anyio
async def test_app_token_internal_has_no_tenant_token(client: httpx.AsyncClient) -> None:
    body = (await client.post(APP, json={"app_id": "cli_a", "app_secret": "secret_a"})).json()
    assert body["code"] == 0 and body["app_access_token"].startswith("a-")
    assert "tenant_access_token" not in body


@pytest.mark.anyio
async def test_thirty_minute_reissue_rule(fake: FakeLark, client: httpx.AsyncClient) -> None:
    first = await tenant_token(client)
    fake.advance(3600)
    again = (await client.post(TENANT, json={"app_id": "cli_a", "app_secret": "secret_a"})).json()
    assert again["tenant_access_token"] == first and again["expire"] == 3600
    fake.advance(1800)  # exactly 30 min left: still the same token
    assert await tenant_token(client) == first
    fake.advance(1)  # past 90 min: a new token, the old one still valid
    reply = (await client.post(TENANT, json={"app_id": "cli_a", "app_secret": "secret_a"})).json()
    second = reply["tenant_access_token"]
    assert second != first and reply["expire"] == 7200
    assert (await client.get(BOT, headers=bearer(first))).json()["code"] == 0
    fake.advance(1799)  # the old one expires at its own expiry
    assert (await client.get(BOT, headers=bearer(first))).json()["code"] == 99991663
    assert (await client.get(BOT, headers=bearer(second))).json()["code"] == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"app_id": "cli_a", "app_secret": "wrong"}, 10014),
        ({"app_id": "cli_nope", "app_secret": "x"}, 10003),
        ({"app_id": "cli_a"}, 10003),
        ({"app_id": "cli_m", "app_secret": "secret_m"}, 10003),  # marketplace app
    ],
)
async def test_token_errors(
    fake: FakeLark, client: httpx.AsyncClient, payload: dict[str, str], code: int
) -> None:
    r = await client.post(TENANT, json=payload)
    body = r.json()
    assert r.status_code == 400 and body["code"] == code
    assert body["error"]["log_id"] == r.headers["x-tt-logid"]
    assert fake.token_requests(payload["app_id"]) == 1


@pytest.mark.anyio
async def test_bad_json_counts_and_fails(fake: FakeLark, client: httpx.AsyncClient) -> None:
    r = await client.post(TENANT, content=b"{not json")
    assert r.status_code == 400 and r.json()["code"] == 10003
    assert fake.token_requests() == 1 and fake.token_requests("cli_a") == 0


@pytest.mark.anyio
async def test_counters_per_app(fake: FakeLark, client: httpx.AsyncClient) -> None:
    await tenant_token(client, "cli_a")
    await tenant_token(client, "cli_a")
    await tenant_token(client, "cli_b")
    await client.post(APP, json={"app_id": "cli_b", "app_secret": "secret_b"})
    assert fake.token_requests("cli_a") == 2 and fake.token_requests("cli_b") == 2
    assert fake.token_requests() == 4
    await client.get(BOT, headers=bearer(await tenant_token(client)))
    assert fake.token_requests() == 5  # bot info is not a token request


@pytest.mark.anyio
async def test_invalidation_is_per_app(fake: FakeLark, client: httpx.AsyncClient) -> None:
    a, b = await tenant_token(client, "cli_a"), await tenant_token(client, "cli_b")
    fake.invalidate_tokens("cli_a")
    r = await client.get(BOT, headers=bearer(a))
    assert r.status_code == 400 and r.json()["code"] == 99991663
    assert (await client.get(BOT, headers=bearer(b))).json()["code"] == 0
    fresh = await tenant_token(client, "cli_a")
    assert fresh != a and (await client.get(BOT, headers=bearer(fresh))).json()["code"] == 0
    fake.invalidate_tokens()
    assert (await client.get(BOT, headers=bearer(b))).json()["code"] == 99991663


# --- bearer validation -------------------------------------------------------------------


@pytest.mark.anyio
async def test_bearer_validation_codes(fake: FakeLark, client: httpx.AsyncClient) -> None:
    @fake.route("GET", "/open-apis/test/v1/user_only")
    async def user_only(req: FakeRequest) -> dict[str, Any]:
        info = fake.require_token(req, kinds=("user",))
        return {"user_id": info.user_id}

    async def code(path: str, headers: dict[str, str] | None = None) -> int:
        r = await client.get(path, headers=headers or {})
        assert r.status_code in (200, 400)
        result: int = r.json()["code"]
        return result

    assert await code(BOT) == 99991661
    assert await code(BOT, {"Authorization": "Basic abc"}) == 99991661
    assert await code(BOT, bearer("t-unknown")) == 99991663
    assert await code(BOT, bearer("zz-unknown")) == 99991671
    app_token = (await client.post(APP, json={"app_id": "cli_a", "app_secret": "secret_a"})).json()
    assert await code(BOT, bearer(app_token["app_access_token"])) == 99991663
    assert await code("/open-apis/test/v1/user_only", bearer("u-unknown")) == 99991668
    user = fake.issue_user_token("cli_a", "ou_user1", expires_in=60)
    r = await client.get("/open-apis/test/v1/user_only", headers=bearer(user["access_token"]))
    assert r.json() == {"code": 0, "msg": "success", "data": {"user_id": "ou_user1"}}
    assert fake.requests[-1].token_info is not None
    assert fake.requests[-1].token_info.kind == "user"
    fake.advance(60)
    assert await code("/open-apis/test/v1/user_only", bearer(user["access_token"])) == 99991677


# --- faults ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_fault_5xx_fires_count_times(fake: FakeLark, client: httpx.AsyncClient) -> None:
    token = await tenant_token(client)
    fake.inject_fault("5xx", path_prefix="/open-apis/bot/", count=2, status=503)
    for _ in range(2):
        r = await client.get(BOT, headers=bearer(token))
        assert r.status_code == 503 and r.json()["code"] == 1000
        assert r.json()["error"]["log_id"] == r.headers["x-tt-logid"]
    assert (await client.get(BOT, headers=bearer(token))).status_code == 200


@pytest.mark.anyio
async def test_fault_path_prefix_filters(fake: FakeLark, client: httpx.AsyncClient) -> None:
    fake.inject_fault("5xx", path_prefix="/open-apis/im/")
    token = await tenant_token(client)
    assert (await client.get(BOT, headers=bearer(token))).status_code == 200
    assert (await send_text(client, token)).status_code == 500
    assert (await send_text(client, token)).status_code == 200


@pytest.mark.anyio
async def test_fault_rate_limit(fake: FakeLark, client: httpx.AsyncClient) -> None:
    fake.inject_fault("rate_limit", retry_after=7)
    r = await client.post(TENANT, json={"app_id": "cli_a", "app_secret": "secret_a"})
    assert r.status_code == 429
    assert r.json()["code"] == 99991400 and r.json()["msg"] == "request trigger frequency limit"
    assert r.headers["x-ogw-ratelimit-reset"] == "7" and r.headers["x-ogw-ratelimit-limit"]
    assert fake.token_requests("cli_a") == 1  # counted even though it failed


@pytest.mark.anyio
async def test_fault_latency(fake: FakeLark, client: httpx.AsyncClient) -> None:
    token = await tenant_token(client)
    fake.inject_fault("latency", latency=0.2)
    clock = loop_clock()  # virtual: the latency is waited on the loop's clock
    start = clock()
    assert (await client.get(BOT, headers=bearer(token))).status_code == 200
    assert clock() - start >= 0.19
    start = clock()
    await client.get(BOT, headers=bearer(token))
    assert clock() - start < 0.19


@pytest.mark.anyio
async def test_fault_token_invalid_skips_token_endpoints(
    fake: FakeLark, client: httpx.AsyncClient
) -> None:
    fake.inject_fault("token_invalid")
    token = await tenant_token(client)  # the token endpoint is not affected
    r = await client.get(BOT, headers=bearer(token))
    assert r.status_code == 400 and r.json()["code"] == 99991663
    assert (await client.get(BOT, headers=bearer(token))).json()["code"] == 0


@pytest.mark.anyio
async def test_fault_drop_in_process(fake: FakeLark, client: httpx.AsyncClient) -> None:
    fake.inject_fault("drop")
    with pytest.raises(ConnectionResetError):
        await client.get(BOT)
    assert (await client.get(BOT)).json()["code"] == 99991661


def test_fault_validation(fake: FakeLark) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        fake.inject_fault("boom")
    with pytest.raises(ValueError, match="count"):
        fake.inject_fault("5xx", count=0)


# --- marketplace -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_marketplace_flow(fake: FakeLark, client: httpx.AsyncClient) -> None:
    creds = {"app_id": "cli_m", "app_secret": "secret_m"}
    r = await client.post("/open-apis/auth/v3/app_access_token", json=creds)
    assert r.status_code == 400 and r.json()["code"] == 10012
    r = await client.post("/open-apis/auth/v3/app_access_token", json={**creds, "app_ticket": "x"})
    assert r.json()["code"] == 10012
    ticket = fake.push_app_ticket("cli_m")
    body = (
        await client.post(
            "/open-apis/auth/v3/app_access_token", json={**creds, "app_ticket": ticket}
        )
    ).json()
    assert body["code"] == 0 and body["app_access_token"].startswith("a-")
    app_token = body["app_access_token"]
    store = "/open-apis/auth/v3/tenant_access_token"
    t2 = (
        await client.post(store, json={"app_access_token": app_token, "tenant_key": "tk2"})
    ).json()
    assert t2["code"] == 0 and t2["expire"] == 7200
    t1 = (
        await client.post(store, json={"app_access_token": app_token, "tenant_key": "tk1"})
    ).json()
    assert t1["tenant_access_token"] != t2["tenant_access_token"]
    info = await client.get(BOT, headers=bearer(t2["tenant_access_token"]))
    assert info.json()["bot"]["app_name"] == "cli_m"
    assert fake.requests[-1].token_info is not None
    assert fake.requests[-1].token_info.tenant_key == "tk2"
    bad_key = await client.post(store, json={"app_access_token": app_token, "tenant_key": "nope"})
    assert bad_key.json()["code"] == 10003
    bad_token = await client.post(store, json={"app_access_token": "a-bad", "tenant_key": "tk1"})
    assert bad_token.json()["code"] == 99991664
    assert fake.token_requests("cli_m") == 6  # tenant token requests resolve the app too
    # the internal endpoints refuse a marketplace app and vice versa
    assert (await client.post(APP, json=creds)).json()["code"] == 10003


@pytest.mark.anyio
async def test_app_ticket_resend(fake: FakeLark, client: httpx.AsyncClient) -> None:
    assert fake.app_ticket("cli_m") is None
    resend = "/open-apis/auth/v3/app_ticket/resend"
    r = await client.post(resend, json={"app_id": "cli_m", "app_secret": "secret_m"})
    assert r.json() == {"code": 0, "msg": "ok"}
    first = fake.app_ticket("cli_m")
    assert first is not None
    await client.post(resend, json={"app_id": "cli_m", "app_secret": "secret_m"})
    assert fake.app_ticket("cli_m") not in (None, first)
    bad = await client.post(resend, json={"app_id": "cli_m", "app_secret": "nope"})
    assert bad.json()["code"] == 10014
    assert fake.token_requests("cli_m") == 0  # resend issues no token


# --- OAuth v2 user tokens ----------------------------------------------------------------


def oauth(grant: str, **kw: str) -> dict[str, str]:
    return {"grant_type": grant, "client_id": "cli_a", "client_secret": "secret_a", **kw}


@pytest.mark.anyio
async def test_oauth_code_and_refresh_rotation(fake: FakeLark, client: httpx.AsyncClient) -> None:
    fake.add_auth_code("cli_a", "ou_alice", "code-1", redirect_uri="https://x/cb", scope="a b")
    r = await client.post(
        OAUTH, json=oauth("authorization_code", code="code-1", redirect_uri="https://x/cb")
    )
    body = r.json()
    assert r.status_code == 200 and body["code"] == 0
    assert body["access_token"].startswith("u-") and body["refresh_token"].startswith("ur-")
    assert body["expires_in"] == 7200 and body["refresh_token_expires_in"] == 2592000
    assert body["token_type"] == "Bearer" and body["scope"] == "a b"
    reuse = await client.post(
        OAUTH, json=oauth("authorization_code", code="code-1", redirect_uri="https://x/cb")
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    refreshed = (
        await client.post(OAUTH, json=oauth("refresh_token", refresh_token=body["refresh_token"]))
    ).json()
    assert refreshed["code"] == 0 and refreshed["refresh_token"] != body["refresh_token"]
    again = await client.post(
        OAUTH, json=oauth("refresh_token", refresh_token=body["refresh_token"])
    )
    assert again.status_code == 400
    assert again.json()["code"] == 20073 and again.json()["error"] == "invalid_grant"
    assert "error_description" in again.json()
    assert fake.tokens.get(refreshed["access_token"]) is not None
    assert fake.token_requests("cli_a") == 4


@pytest.mark.anyio
async def test_oauth_errors(fake: FakeLark, client: httpx.AsyncClient) -> None:
    async def error(payload: dict[str, str]) -> tuple[int, str]:
        r = await client.post(OAUTH, json=payload)
        assert r.status_code == 400
        return r.json()["code"], r.json()["error"]

    fake.add_auth_code("cli_a", "ou_bob", "code-exp")
    fake.add_auth_code("cli_a", "ou_bob", "code-uri", redirect_uri="https://x/cb")
    assert await error(oauth("authorization_code", code="code-uri")) == (20071, "invalid_grant")
    assert await error({**oauth("authorization_code", code="code-exp"), "client_secret": "no"}) == (
        20002,
        "invalid_client",
    )
    assert await error(oauth("authorization_code", code="nope")) == (20003, "invalid_grant")
    assert await error(oauth("password")) == (20001, "unsupported_grant_type")
    assert await error({"grant_type": "refresh_token"}) == (20001, "invalid_request")
    assert await error(oauth("refresh_token", refresh_token="ur-nope")) == (20026, "invalid_grant")
    fake.advance(301)
    assert await error(oauth("authorization_code", code="code-exp")) == (20004, "invalid_grant")
    grant = fake.issue_user_token("cli_a", "ou_bob", refresh_expires_in=100)
    fake.advance(100)
    assert await error(oauth("refresh_token", refresh_token=grant["refresh_token"])) == (
        20037,
        "invalid_grant",
    )
    revoked = fake.issue_user_token("cli_a", "ou_bob")
    fake.invalidate_tokens("cli_a")
    assert await error(oauth("refresh_token", refresh_token=revoked["refresh_token"])) == (
        20064,
        "invalid_grant",
    )


@pytest.mark.anyio
async def test_oauth_accepts_urlencoded(fake: FakeLark, client: httpx.AsyncClient) -> None:
    fake.add_auth_code("cli_a", "ou_carol", "code-form")
    r = await client.post(OAUTH, data=oauth("authorization_code", code="code-form"))
    assert r.json()["code"] == 0 and fake.token_requests("cli_a") == 1


# --- bot info and messages ---------------------------------------------------------------


@pytest.mark.anyio
async def test_bot_info_per_app(client: httpx.AsyncClient) -> None:
    a = (await client.get(BOT, headers=bearer(await tenant_token(client, "cli_a")))).json()
    b = (await client.get(BOT, headers=bearer(await tenant_token(client, "cli_b")))).json()
    assert a["code"] == 0 and a["msg"] == "ok" and "data" not in a
    assert a["bot"]["app_name"] == "App A" and b["bot"]["app_name"] == "App B"
    assert a["bot"]["activate_status"] == 2 and a["bot"]["ip_white_list"] == []
    assert a["bot"]["open_id"].startswith("ou_") and a["bot"]["open_id"] != b["bot"]["open_id"]
    again = (await client.get(BOT, headers=bearer(await tenant_token(client, "cli_a")))).json()
    assert again["bot"]["open_id"] == a["bot"]["open_id"]


@pytest.mark.anyio
async def test_send_message(fake: FakeLark, client: httpx.AsyncClient) -> None:
    r = await send_text(client, await tenant_token(client))
    body = r.json()
    assert r.status_code == 200 and body["code"] == 0 and body["msg"] == "success"
    data = body["data"]
    assert data["message_id"].startswith("om_") and data["chat_id"] == "oc_chat"
    assert data["msg_type"] == "text" and json.loads(data["body"]["content"]) == {"text": "hi"}
    assert data["sender"] == {
        "id": "cli_a",
        "id_type": "app_id",
        "sender_type": "app",
        "tenant_key": "tenant_default",
    }
    assert data["deleted"] is False and data["updated"] is False
    assert data["create_time"] == str(int(T0 * 1000))
    assert len(fake.messages) == 1 and fake.messages[0]["app_id"] == "cli_a"
    assert fake.messages[0]["receive_id"] == "oc_chat"


@pytest.mark.anyio
async def test_send_message_to_user_uses_a_p2p_chat(client: httpx.AsyncClient) -> None:
    token = await tenant_token(client)
    one = (await send_text(client, token, receive_id="ou_x", receive_id_type="open_id")).json()
    two = (await send_text(client, token, receive_id="ou_x", receive_id_type="open_id")).json()
    assert one["data"]["chat_id"].startswith("oc_")
    assert one["data"]["chat_id"] == two["data"]["chat_id"]


@pytest.mark.anyio
async def test_message_uuid_dedup(fake: FakeLark, client: httpx.AsyncClient) -> None:
    token_a, token_b = await tenant_token(client, "cli_a"), await tenant_token(client, "cli_b")
    first = (await send_text(client, token_a, uuid="u-1")).json()["data"]
    second = (await send_text(client, token_a, uuid="u-1")).json()["data"]
    assert first["message_id"] == second["message_id"] and len(fake.messages) == 1
    other_app = (await send_text(client, token_b, uuid="u-1")).json()["data"]
    assert other_app["message_id"] != first["message_id"] and len(fake.messages) == 2
    fake.advance(3600)
    later = (await send_text(client, token_a, uuid="u-1")).json()["data"]
    assert later["message_id"] != first["message_id"] and len(fake.messages) == 3


@pytest.mark.anyio
@pytest.mark.parametrize(
    "over",
    [
        {"receive_id_type": "phone"},
        {"content": {"text": "not a string"}},
        {"content": "{not json"},
        {"receive_id": ""},
        {"msg_type": "bogus"},
        {"uuid": "x" * 51},
    ],
)
async def test_send_message_validation(
    fake: FakeLark, client: httpx.AsyncClient, over: dict[str, Any]
) -> None:
    r = await send_text(client, await tenant_token(client), **over)
    assert r.status_code == 400 and r.json()["code"] == 230001
    assert fake.messages == []


@pytest.mark.anyio
async def test_send_message_bad_json_and_wrong_token(
    fake: FakeLark, client: httpx.AsyncClient
) -> None:
    token = await tenant_token(client)
    r = await client.post(
        MSG, params={"receive_id_type": "chat_id"}, content=b"{", headers=bearer(token)
    )
    assert r.status_code == 400 and r.json()["code"] == 9499
    user = fake.issue_user_token("cli_a", "ou_u")
    assert (await send_text(client, user["access_token"])).json()["code"] == 99991663


# --- recording, reset, routing extension -------------------------------------------------


@pytest.mark.anyio
async def test_requests_are_recorded(fake: FakeLark, client: httpx.AsyncClient) -> None:
    token = await tenant_token(client)
    await send_text(client, token)
    rec = fake.requests[-1]
    assert rec.method == "POST" and rec.path == MSG
    assert rec.query == [("receive_id_type", "chat_id")]
    assert rec.headers["authorization"] == f"Bearer {token}"
    assert rec.json()["receive_id"] == "oc_chat"
    assert rec.token_info is not None and rec.token_info.app_id == "cli_a"
    assert fake.requests[0].token_info is None and fake.requests[0].path == TENANT


@pytest.mark.anyio
async def test_reset_keeps_apps(fake: FakeLark, client: httpx.AsyncClient) -> None:
    token = await tenant_token(client)
    await send_text(client, token)
    fake.inject_fault("5xx")
    fake.reset()
    assert fake.requests == [] and fake.messages == [] and fake.token_requests() == 0
    assert (await client.get(BOT, headers=bearer(token))).json()["code"] == 99991663
    assert (await client.get(BOT, headers=bearer(await tenant_token(client)))).status_code == 200


@pytest.mark.anyio
async def test_custom_routes(fake: FakeLark, client: httpx.AsyncClient) -> None:
    @fake.route("GET", "/open-apis/test/v1/items/{item_id}")
    async def get_item(req: FakeRequest) -> dict[str, Any]:
        if req.path_params["item_id"] == "missing":
            raise FakeLarkError(404, 1254040, "not found", headers={"X-Extra": "1"})
        return {"item_id": req.path_params["item_id"], "q": req.query.get("q")}

    @fake.route("POST", "/open-apis/test/v1/raw")
    async def raw(req: FakeRequest) -> tuple[int, dict[str, Any]]:
        return 201, {"echo": req.json()}

    @fake.route("GET", "/open-apis/test/v1/text")
    async def text(req: FakeRequest) -> PlainTextResponse:
        return PlainTextResponse("hello")

    @fake.route("POST", "/open-apis/test/v1/upload")
    async def upload(req: FakeRequest) -> dict[str, Any]:
        form = req.form()
        return {
            "kind": form["image_type"].text,
            "size": len(form["image"].data),
            "fn": form["image"].filename,
        }

    r = await client.get("/open-apis/test/v1/items/42", params={"q": "x"})
    assert r.json() == {"code": 0, "msg": "success", "data": {"item_id": "42", "q": "x"}}
    r = await client.get("/open-apis/test/v1/items/missing")
    assert r.status_code == 404 and r.json()["code"] == 1254040 and r.headers["x-extra"] == "1"
    r = await client.post("/open-apis/test/v1/raw/", json={"a": 1})  # trailing slash matches
    assert r.status_code == 201 and r.json() == {"echo": {"a": 1}}
    r = await client.get("/open-apis/test/v1/text")
    assert r.text == "hello" and r.headers["x-tt-logid"]
    files = {"image": ("a.png", b"\x89PNG\r\n\x00data", "image/png")}
    r = await client.post("/open-apis/test/v1/upload", data={"image_type": "message"}, files=files)
    assert r.json()["data"] == {"kind": "message", "size": 11, "fn": "a.png"}
    r = await client.get("/open-apis/nothing/here")
    assert r.status_code == 404 and r.text == "404 page not found"


def test_extensions_are_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    def register(fake: FakeLark) -> None:
        fake.state["registered"] = True

    monkeypatch.setattr(fake_server, "EXTENSIONS", (register,))
    assert FakeLark().state["registered"] is True


# --- control endpoints -------------------------------------------------------------------


@pytest.mark.anyio
async def test_control_endpoints(fake: FakeLark, client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/_fake/apps", json={"app_id": "cli_new", "app_secret": "s", "name": "New"}
    )
    assert r.json()["data"]["app_id"] == "cli_new"
    new = await client.post(TENANT, json={"app_id": "cli_new", "app_secret": "s"})
    token = new.json()["tenant_access_token"]
    stats = (await client.get("/_fake/stats")).json()["data"]
    assert stats["token_requests"] == {"cli_new": 1} and stats["total_token_requests"] == 1
    now = (await client.post("/_fake/advance", json={"seconds": 60})).json()["data"]["now"]
    assert now == T0 + 60
    await client.post("/_fake/invalidate", json={"app_id": "cli_new"})
    assert (await client.get(BOT, headers=bearer(token))).json()["code"] == 99991663
    await client.post("/_fake/faults", json={"kind": "5xx", "status": 502})
    assert (await client.get(BOT)).status_code == 502
    bad = await client.post("/_fake/faults", json={"kind": "nope"})
    assert bad.status_code == 400 and bad.json()["code"] == 9499
    ticket = (await client.post("/_fake/app_ticket", json={"app_id": "cli_m"})).json()["data"]
    assert ticket["app_ticket"] == fake.app_ticket("cli_m")
    await send_text(client, await tenant_token(client))
    items = (await client.get("/_fake/messages")).json()["data"]["items"]
    assert len(items) == 1 and items[0]["receive_id"] == "oc_chat"
    assert all(not r.path.startswith("/_fake/") for r in fake.requests)
    await client.post("/_fake/reset")
    assert fake.token_requests() == 0 and "cli_new" in fake.apps


def test_main_parses_apps() -> None:
    assert fake_main.parse_app("cli_x:sec") == ("cli_x", "sec", "self_built", "")
    assert fake_main.parse_app("cli_y:sec:marketplace:My Bot") == (
        "cli_y",
        "sec",
        "marketplace",
        "My Bot",
    )
    fake = fake_main.build()
    assert set(fake.apps) == {"cli_demo_alerts", "cli_demo_hr"}
