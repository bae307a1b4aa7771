"""The fake im/v1 endpoints answer with Lark's validation, codes and frequency limits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lark_service.testing.fake_lark import FakeLark

pytestmark = pytest.mark.anyio
MSG = "/open-apis/im/v1/messages"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def fake() -> FakeLark:
    f = FakeLark(start_time=1_700_000_000.0)
    f.add_app("cli_a", "sa")
    f.add_app("cli_b", "sb")
    return f


@pytest.fixture
async def http(fake: FakeLark) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as c:
        yield c


async def token(http: httpx.AsyncClient, app: str = "cli_a") -> dict[str, str]:
    secret = {"cli_a": "sa", "cli_b": "sb"}[app]
    r = await http.post(
        "/open-apis/auth/v3/tenant_access_token/internal",
        json={"app_id": app, "app_secret": secret},
    )
    return {"Authorization": "Bearer " + r.json()["tenant_access_token"]}


async def send(
    http: httpx.AsyncClient, h: dict[str, str], msg_type: str, content: Any, **over: Any
) -> httpx.Response:
    body = {"receive_id": "oc_c", "msg_type": msg_type, "content": content, **over}
    return await http.post(MSG, params={"receive_id_type": "chat_id"}, json=body, headers=h)


async def upload_image(http: httpx.AsyncClient, h: dict[str, str], data: bytes = PNG) -> Any:
    files = {"image": ("i.png", data)}
    return await http.post(
        "/open-apis/im/v1/images", data={"image_type": "message"}, files=files, headers=h
    )


@pytest.mark.parametrize(
    ("msg_type", "content", "code"),
    [
        ("text", json.dumps({"txt": "x"}), 230001),
        ("post", json.dumps({"post": {"zh_cn": {"content": []}}}), 230001),
        ("post", json.dumps({"zh_cn": {"content": [["not a run"]]}}), 230001),
        ("image", json.dumps({"image_key": "img_v3_unknown"}), 230001),
        ("file", json.dumps({"file_key": "file_v3_unknown"}), 230001),
        ("share_chat", json.dumps({"chat_id": "x"}), 230001),
        ("interactive", json.dumps({"nothing": 1}), 230099),
        ("system", json.dumps({}), 230001),
        ("text", json.dumps({"text": "x" * (150 * 1024)}), 230025),
        (
            "post",
            json.dumps({"zh_cn": {"content": [[{"tag": "text", "text": "x" * 31000}]]}}),
            230025,
        ),
    ],
)
async def test_send_content_validation(
    fake: FakeLark, http: httpx.AsyncClient, msg_type: str, content: str, code: int
) -> None:
    r = await send(http, await token(http), msg_type, content)
    assert r.status_code == 400 and r.json()["code"] == code
    assert fake.messages == []


async def test_chat_checks_and_scope_switch(fake: FakeLark, http: httpx.AsyncClient) -> None:
    h = await token(http)
    text = json.dumps({"text": "x"})
    r = await send(http, h, "text", text, receive_id="chat_1")
    assert r.json()["code"] == 230034
    fake.state["im_bot_not_in_chat"] = {("cli_a", "oc_c")}
    assert (await send(http, h, "text", text)).json()["code"] == 230002
    fake.state["im_denied_apps"] = {"cli_a"}
    r = await send(http, h, "text", text)
    assert r.json()["code"] == 99991672 and "scopes is required" in r.json()["msg"]


async def test_images_belong_to_the_uploading_app(fake: FakeLark, http: httpx.AsyncClient) -> None:
    ha, hb = await token(http), await token(http, "cli_b")
    key = (await upload_image(http, ha)).json()["data"]["image_key"]
    assert key.startswith("img_v3_")
    assert (await send(http, ha, "image", json.dumps({"image_key": key}))).json()["code"] == 0
    assert (await send(http, hb, "image", json.dumps({"image_key": key}))).json()["code"] == 230001


async def test_upload_errors(http: httpx.AsyncClient) -> None:
    h = await token(http)
    assert (await upload_image(http, h, b"")).json()["code"] == 234010
    assert (await upload_image(http, h, b"plain text")).json()["code"] == 234011
    r = await http.post(
        "/open-apis/im/v1/files",
        data={"file_type": "exe", "file_name": "a"},
        files={"file": ("a", b"x")},
        headers=h,
    )
    assert r.json()["code"] == 234001
    r = await http.post(
        "/open-apis/im/v1/files",
        data={"file_type": "opus", "file_name": "a.opus", "duration": "900"},
        files={"file": ("a.opus", b"OggS")},
        headers=h,
    )
    assert r.json()["data"]["file_key"].startswith("file_v3_")


async def test_list_page_size_and_thread(fake: FakeLark, http: httpx.AsyncClient) -> None:
    h = await token(http)
    q = {"container_id_type": "chat", "container_id": "oc_c", "page_size": "51"}
    assert (await http.get(MSG, params=q, headers=h)).json()["code"] == 230001
    root = (await send(http, h, "text", json.dumps({"text": "r"}))).json()["data"]
    body = {"msg_type": "text", "content": json.dumps({"text": "t"}), "reply_in_thread": True}
    reply = (await http.post(f"{MSG}/{root['message_id']}/reply", json=body, headers=h)).json()
    thread = reply["data"]["thread_id"]
    q = {"container_id_type": "thread", "container_id": thread}
    items = (await http.get(MSG, params=q, headers=h)).json()["data"]["items"]
    # the thread holds its root and the replies in it
    assert [i["message_id"] for i in items] == [root["message_id"], reply["data"]["message_id"]]


async def test_edit_limit_and_recall_window(fake: FakeLark, http: httpx.AsyncClient) -> None:
    h = await token(http)
    mid = (await send(http, h, "text", json.dumps({"text": "0"}))).json()["data"]["message_id"]
    for i in range(20):
        body = {"msg_type": "text", "content": json.dumps({"text": str(i)})}
        assert (await http.put(f"{MSG}/{mid}", json=body, headers=h)).json()["code"] == 0
    assert (await http.put(f"{MSG}/{mid}", json=body, headers=h)).json()["code"] == 230072
    fake.advance(24 * 3600 + 1)
    h = await token(http)
    assert (await http.delete(f"{MSG}/{mid}", headers=h)).json()["code"] == 230009


async def test_rate_limits_per_chat_and_per_app(fake: FakeLark, http: httpx.AsyncClient) -> None:
    clock = Clock()
    fake.state["im_rate_clock"] = clock
    h = await token(http)
    text = json.dumps({"text": "x"})
    codes = [(await send(http, h, "text", text)).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]  # 5 QPS per chat
    r = await send(http, h, "text", text)
    assert r.json()["code"] == 99991400
    assert r.headers["x-ogw-ratelimit-limit"] == "5" and r.headers["x-ogw-ratelimit-reset"] == "1"
    clock.t += 1.0
    assert (await send(http, h, "text", text)).status_code == 200
    # 50/s per app across chats
    clock.t += 10
    codes = [
        (await send(http, h, "text", text, receive_id=f"oc_{i}")).status_code for i in range(51)
    ]
    assert codes.count(429) == 1 and codes[-1] == 429
    fake.state["im_rate_scale"] = 0  # limits off
    assert (await send(http, h, "text", text, receive_id="oc_0")).status_code == 200
