"""The official SDK (lark-oapi) works against the fake Lark server over a real socket.

lark-oapi caches tokens in one process-global cache keyed by app_id, so every test uses
its own app_id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import lark_oapi as lark
import pytest
from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody
from lark_oapi.core.enum import AccessTokenType, AppType, HttpMethod
from lark_oapi.core.exception import ObtainAccessTokenException
from lark_oapi.core.model import BaseRequest, RequestOption

from lark_service.testing.fake_lark import FakeLark, RunningServer, serve_in_thread

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def running() -> Iterator[RunningServer]:
    fake = FakeLark()
    with serve_in_thread(fake) as server:
        yield server


@pytest.fixture
def fake(running: RunningServer) -> Iterator[FakeLark]:
    running.fake.reset()
    yield running.fake


def sdk_client(running: RunningServer, app_id: str, secret: str, **kw: object) -> lark.Client:
    builder = lark.Client.builder().app_id(app_id).app_secret(secret).domain(running.base_url)
    if kw.get("isv"):
        builder = builder.app_type(AppType.ISV)
    return builder.log_level(lark.LogLevel.ERROR).build()


def text_message(chat_id: str, text: str, uuid: str | None = None) -> CreateMessageRequest:
    body = (
        CreateMessageRequestBody.builder()
        .receive_id(chat_id)
        .msg_type("text")
        .content(json.dumps({"text": text}))
    )
    if uuid:
        body = body.uuid(uuid)
    return (
        CreateMessageRequest.builder().receive_id_type("chat_id").request_body(body.build()).build()
    )


def bot_info_request() -> BaseRequest:
    return (
        BaseRequest.builder()
        .http_method(HttpMethod.GET)
        .uri("/open-apis/bot/v3/info")
        .token_types({AccessTokenType.TENANT})
        .build()
    )


def test_sdk_sends_a_text_message(running: RunningServer, fake: FakeLark) -> None:
    fake.add_app("cli_contract_send", "sec-send", name="Contract Send")
    client = sdk_client(running, "cli_contract_send", "sec-send")
    resp = client.im.v1.message.create(text_message("oc_contract", "hello", uuid="c-1"))
    assert resp.success(), (resp.code, resp.msg)
    assert resp.data.message_id.startswith("om_") and resp.data.chat_id == "oc_contract"
    assert resp.data.sender.id == "cli_contract_send"
    assert resp.get_log_id()
    assert [m["message_id"] for m in fake.messages] == [resp.data.message_id]
    assert json.loads(fake.messages[0]["content"]) == {"text": "hello"}
    again = client.im.v1.message.create(text_message("oc_contract", "hello", uuid="c-1"))
    assert again.data.message_id == resp.data.message_id and len(fake.messages) == 1
    assert fake.token_requests("cli_contract_send") == 1
    sent = [r for r in fake.requests if r.path == "/open-apis/im/v1/messages"]
    assert sent[0].token_info is not None and sent[0].token_info.app_id == "cli_contract_send"


def test_sdk_raw_request_bot_info(running: RunningServer, fake: FakeLark) -> None:
    fake.add_app("cli_contract_raw", "sec-raw", name="Contract Raw")
    client = sdk_client(running, "cli_contract_raw", "sec-raw")
    resp = client.request(bot_info_request())
    assert resp.code == 0 and resp.msg == "ok" and resp.get_log_id()
    bot = json.loads(resp.raw.content)["bot"]
    assert (
        bot["app_name"] == "Contract Raw"
        and bot["open_id"] == fake.apps["cli_contract_raw"].open_id
    )


def test_sdk_surfaces_a_wrong_secret(running: RunningServer, fake: FakeLark) -> None:
    fake.add_app("cli_contract_bad", "right")
    client = sdk_client(running, "cli_contract_bad", "wrong")
    with pytest.raises(ObtainAccessTokenException) as info:
        client.im.v1.message.create(text_message("oc_contract", "nope"))
    assert info.value.code == 10014 and info.value.msg == "app secret invalid"
    assert fake.messages == [] and fake.token_requests("cli_contract_bad") == 1


def test_sdk_sees_business_errors(running: RunningServer, fake: FakeLark) -> None:
    fake.add_app("cli_contract_err", "sec-err")
    client = sdk_client(running, "cli_contract_err", "sec-err")
    fake.inject_fault("rate_limit", path_prefix="/open-apis/im/")
    resp = client.im.v1.message.create(text_message("oc_contract", "x"))
    assert not resp.success() and resp.code == 99991400
    assert resp.raw.status_code == 429
    fake.invalidate_tokens("cli_contract_err")  # the SDK keeps its cached token
    resp = client.im.v1.message.create(text_message("oc_contract", "x"))
    assert resp.code == 99991663


def test_sdk_marketplace_app(running: RunningServer, fake: FakeLark) -> None:
    fake.add_app("cli_contract_isv", "sec-isv", app_type="marketplace", tenant_keys=("tk_9",))
    client = sdk_client(running, "cli_contract_isv", "sec-isv", isv=True)
    option = (
        RequestOption.builder()
        .app_ticket(fake.push_app_ticket("cli_contract_isv"))
        .tenant_key("tk_9")
        .build()
    )
    resp = client.request(bot_info_request(), option)
    assert resp.code == 0, resp.msg
    info = [r.token_info for r in fake.requests if r.path == "/open-apis/bot/v3/info"]
    assert info[0] is not None and info[0].tenant_key == "tk_9"
    assert fake.token_requests("cli_contract_isv") == 2  # app token, then tenant token
