"""MessagingClient against the fake Lark server: the wire request, the typed result, errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lark_service.adapters.memory import InMemoryMetrics
from lark_service.application import CredentialPool, MessagingClient
from lark_service.application.clients.cards import CardBuilder
from lark_service.application.clients.post import PostBuilder
from lark_service.application.rate_limit import RateLimiter
from lark_service.domain import (
    BadRequestError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TokenInvalidError,
)
from lark_service.domain.models.messaging import Message
from lark_service.testing import FakeLark, RecordedRequest, fake_pool
from lark_service.testing.virtual_time import loop_clock
from tests.conftest import FAST_RETRY, loop_limiter, make_apps

pytestmark = pytest.mark.anyio
MSG = "/open-apis/im/v1/messages"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
CHAT = "oc_chat1"


def sent(fake: FakeLark, method: str = "POST", path: str = MSG) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.method == method and r.path == path]


def bearer_tenant(req: RecordedRequest) -> None:
    assert req.headers["authorization"].startswith("Bearer t-")
    assert req.token_info is not None and req.token_info.kind == "tenant"


async def test_send_text_wire_and_result(pool: CredentialPool, fake: FakeLark) -> None:
    msg = await MessagingClient(pool).send_text(CHAT, "hi", uuid="u-1")
    (req,) = sent(fake)
    bearer_tenant(req)
    assert req.query == [("receive_id_type", "chat_id")]
    body = req.json()
    assert body == {
        "receive_id": CHAT,
        "msg_type": "text",
        "content": '{"text":"hi"}',
        "uuid": "u-1",
    }
    assert isinstance(msg, Message) and msg.message_id.startswith("om_") and msg.chat_id == CHAT
    assert msg.sender is not None and msg.sender.id == "cli_app0"


async def test_send_text_generates_one_uuid_reused_on_retry(
    pool: CredentialPool, fake: FakeLark
) -> None:
    client = MessagingClient(pool)
    await client.get_bot_info()
    fake.inject_fault("5xx", path_prefix=MSG, count=1)
    await client.send_text(CHAT, "x")
    uuids = [r.json()["uuid"] for r in sent(fake)]
    assert len(uuids) == 2 and uuids[0] == uuids[1] and len(uuids[0]) <= 50
    assert len([m for m in fake.messages if m["chat_id"] == CHAT]) == 1


async def test_send_post_builder(pool: CredentialPool, fake: FakeLark) -> None:
    post = (
        PostBuilder("Release")
        .text("bold ", bold=True)
        .text("gone", strikethrough=True, italic=True)
        .link("docs", "https://example.com", underline=True)
        .paragraph()
        .at("ou_x")
        .at_all()
        .lang("en_us", title="EN")
        .text("hello")
    )
    msg = await MessagingClient(pool).send_post(CHAT, post)
    content = json.loads(sent(fake)[0].json()["content"])
    assert "post" not in content and set(content) == {"zh_cn", "en_us"}
    zh = content["zh_cn"]
    assert zh["title"] == "Release" and len(zh["content"]) == 2
    assert zh["content"][0][0] == {"tag": "text", "text": "bold ", "style": ["bold"]}
    assert zh["content"][0][1]["style"] == ["italic", "lineThrough"]
    assert zh["content"][0][2] == {
        "tag": "a",
        "text": "docs",
        "href": "https://example.com",
        "style": ["underline"],
    }
    assert zh["content"][1] == [{"tag": "at", "user_id": "ou_x"}, {"tag": "at", "user_id": "all"}]
    assert msg.msg_type == "post"


async def test_send_card_builder_and_template(pool: CredentialPool, fake: FakeLark) -> None:
    client = MessagingClient(pool)
    card = (
        CardBuilder()
        .header("Deploy", template="green")
        .markdown("**done**")
        .text("plain")
        .divider()
        .fields([("Owner", "Tom"), ("Env", "prod")])
        .button("Open", url="https://example.com", type="primary")
        .button("Ack", value={"k": "v"})
        .note("footer")
    )
    await client.send_card(CHAT, card)
    await client.send_template_card(CHAT, "ctp_1", {"name": "Tom"})
    first, second = (json.loads(r.json()["content"]) for r in sent(fake))
    assert [r.json()["msg_type"] for r in sent(fake)] == ["interactive", "interactive"]
    assert first["header"] == {
        "title": {"tag": "plain_text", "content": "Deploy"},
        "template": "green",
    }
    tags = [e["tag"] for e in first["elements"]]
    assert tags == ["markdown", "div", "hr", "div", "action", "note"]
    assert len(first["elements"][4]["actions"]) == 2
    assert second == {
        "type": "template",
        "data": {"template_id": "ctp_1", "template_variable": {"name": "Tom"}},
    }


async def test_send_image_uploads_then_sends(
    pool: CredentialPool, fake: FakeLark, tmp_path: Path
) -> None:
    path = tmp_path / "pic.png"
    path.write_bytes(PNG)
    msg = await MessagingClient(pool).send_image(CHAT, path)
    (upload,) = sent(fake, path="/open-apis/im/v1/images")
    bearer_tenant(upload)
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert b'name="image_type"' in upload.body and PNG in upload.body
    content = json.loads(sent(fake)[0].json()["content"])
    assert content["image_key"].startswith("img_v3_") and msg.msg_type == "image"


async def test_send_file_and_upload_file(pool: CredentialPool, fake: FakeLark) -> None:
    client = MessagingClient(pool)
    msg = await client.send_file(CHAT, b"%PDF-1.4", file_name="a.pdf")
    (upload,) = sent(fake, path="/open-apis/im/v1/files")
    assert b'name="file_type"\r\n\r\npdf' in upload.body and b"a.pdf" in upload.body
    assert msg.msg_type == "file"
    key = await client.upload_file(b"OggS", file_name="v.opus", duration=1200)
    assert key.startswith("file_v3_")
    assert b'name="duration"\r\n\r\n1200' in sent(fake, path="/open-apis/im/v1/files")[1].body
    audio = await client.send_file(CHAT, b"OggS", file_name="v.opus")
    assert audio.msg_type == "audio"


async def test_upload_checks_before_the_call(pool: CredentialPool, fake: FakeLark) -> None:
    client = MessagingClient(pool)
    with pytest.raises(ConfigError, match="empty"):
        await client.upload_image(b"")
    with pytest.raises(ConfigError, match="10 MB"):
        await client.upload_image(PNG + b"\x00" * (10 * 1024 * 1024))
    with pytest.raises(ConfigError, match="JPEG"):
        await client.upload_image(b"not an image")
    with pytest.raises(ConfigError, match="empty"):
        await client.upload_file(b"", file_name="a.pdf")
    with pytest.raises(ConfigError, match="30 MB"):
        await client.upload_file(b"x" * (30 * 1024 * 1024 + 1), file_name="a.bin")
    with pytest.raises(ConfigError, match="file_type"):
        await client.upload_file(b"x", file_name="a.bin", file_type="exe")
    assert fake.requests == []


async def test_bad_input_caught_before_the_call(pool: CredentialPool, fake: FakeLark) -> None:
    client = MessagingClient(pool)
    with pytest.raises(ConfigError, match="oc_"):
        await client.send_text("chat1", "x")
    with pytest.raises(ConfigError, match="30 KB"):
        await client.send_card(CHAT, {"elements": [{"tag": "markdown", "content": "x" * 31_000}]})
    with pytest.raises(ConfigError, match="uuid"):
        await client.send_text(CHAT, "x", uuid="u" * 51)
    with pytest.raises(ConfigError, match="om_"):
        await client.get_message("123")
    with pytest.raises(ConfigError, match="page_size"):
        await client.list_messages(CHAT, page_size=51)
    with pytest.raises(ConfigError, match="update_card"):
        await client.update_message("om_1", "interactive", {})
    assert fake.requests == []


async def test_reply_update_recall_get(pool: CredentialPool, fake: FakeLark) -> None:
    client = MessagingClient(pool)
    root = await client.send_text(CHAT, "root")
    reply = await client.reply_text(root.message_id, "re", reply_in_thread=True, uuid="r-1")
    (req,) = sent(fake, path=f"{MSG}/{root.message_id}/reply")
    bearer_tenant(req)
    assert req.json() == {
        "msg_type": "text",
        "content": '{"text":"re"}',
        "reply_in_thread": True,
        "uuid": "r-1",
    }
    assert reply.parent_id == root.message_id and reply.root_id == root.message_id
    assert reply.thread_id.startswith("omt_")

    edited = await client.update_text(root.message_id, "root v2")
    (put,) = sent(fake, "PUT", f"{MSG}/{root.message_id}")
    assert put.json() == {"msg_type": "text", "content": '{"text":"root v2"}'}
    assert edited.updated and edited.body is not None and "v2" in edited.body.content

    await client.recall_message(reply.message_id)
    assert len(sent(fake, "DELETE", f"{MSG}/{reply.message_id}")) == 1
    got = await client.get_message(reply.message_id)
    assert got.deleted and got.message_id == reply.message_id
    with pytest.raises(NotFoundError) as info:
        await client.reply_text(reply.message_id, "late")
    assert info.value.code == 230011


async def test_update_card_only_for_cards(pool: CredentialPool, fake: FakeLark) -> None:
    client = MessagingClient(pool)
    card = await client.send_card(CHAT, CardBuilder().markdown("v1"))
    await client.update_card(card.message_id, CardBuilder().markdown("v2"))
    (patch,) = sent(fake, "PATCH", f"{MSG}/{card.message_id}")
    assert json.loads(patch.json()["content"])["elements"][0]["content"] == "v2"
    text = await client.send_text(CHAT, "t")
    with pytest.raises(BadRequestError) as info:
        await client.update_card(text.message_id, CardBuilder().markdown("v2"))
    assert info.value.code == 230054


async def test_other_apps_message_and_unknown_message(pool: CredentialPool, fake: FakeLark) -> None:
    client = MessagingClient(pool)
    mine = await client.send_text(CHAT, "a")
    with pytest.raises(PermissionDeniedError) as info:
        await client.update_text(mine.message_id, "b", app_id="cli_app1")
    assert info.value.code == 230012 and info.value.app_id == "cli_app1"
    with pytest.raises(PermissionDeniedError) as info:
        await client.recall_message(mine.message_id, app_id="cli_app1")
    assert info.value.code == 230026
    with pytest.raises(BadRequestError) as bad:
        await client.get_message("om_missing")
    assert bad.value.code == 230001


async def test_list_and_iter_messages(pool: CredentialPool, fake: FakeLark) -> None:
    client = MessagingClient(pool)
    for i in range(7):
        await client.send_text(CHAT, f"m{i}")
    await client.send_text("oc_other", "elsewhere")
    page = await client.list_messages(CHAT, page_size=3, start_time=0)
    (req,) = sent(fake, "GET")
    bearer_tenant(req)
    assert dict(req.query) == {
        "container_id_type": "chat",
        "container_id": CHAT,
        "start_time": "0",
        "sort_type": "ByCreateTimeAsc",
        "page_size": "3",
    }
    assert len(page.items) == 3 and page.has_more and page.page_token
    texts = [
        json.loads(m.body.content)["text"]
        async for m in client.iter_messages(CHAT, page_size=3)
        if m.body
    ]
    assert texts == [f"m{i}" for i in range(7)]
    desc = await client.list_messages(CHAT, sort_type="ByCreateTimeDesc")
    assert desc.page_token is None and not desc.has_more
    assert next(json.loads(m.body.content)["text"] for m in desc.items if m.body) == "m6"


async def test_send_batch_keeps_order_and_failures(pool: CredentialPool, fake: FakeLark) -> None:
    fake.state["im_bot_not_in_chat"] = {("cli_app0", "oc_b")}
    results = await MessagingClient(pool).send_batch(
        ["oc_a", "oc_b", "oc_c"], "hello", concurrency=2
    )
    assert [r.receive_id for r in results] == ["oc_a", "oc_b", "oc_c"]
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, PermissionDeniedError) and results[1].error.code == 230002
    assert len({r.json()["uuid"] for r in sent(fake)}) == 3


async def test_permission_denied_switch(pool: CredentialPool, fake: FakeLark) -> None:
    fake.state["im_denied_apps"] = {"cli_app1"}
    with pytest.raises(PermissionDeniedError) as info:
        await MessagingClient(pool).send_text(CHAT, "x", app_id="cli_app1")
    assert info.value.code == 99991672
    assert (await MessagingClient(pool).send_text(CHAT, "x")).message_id


async def test_token_invalid_once_then_twice(pool: CredentialPool, fake: FakeLark) -> None:
    client = MessagingClient(pool)
    fake.inject_fault("token_invalid", path_prefix=MSG, count=1)
    assert (await client.send_text(CHAT, "x")).message_id
    fake.inject_fault("token_invalid", path_prefix=MSG, count=2)
    with pytest.raises(TokenInvalidError):
        await client.list_messages(CHAT)


async def test_burst_of_500_is_shaped_by_the_limiter(fake: FakeLark) -> None:
    """The issue's test: with the client limiter, 500 sends to one chat meet no 429.

    On virtual time the limiter's delays take no real time, and the fake's buckets run on
    the same (loop) clock."""
    fake.state["im_rate_scale"] = 20  # fake: 100/s per chat, 1000/s and 20000/min per app
    metrics = InMemoryMetrics()
    started = loop_clock()()
    async with fake_pool(
        fake,
        apps=make_apps(fake, 1, prefix="cli_burst"),
        metrics=metrics,
        retry=FAST_RETRY,
        limiter=loop_limiter(scale=20),  # the same limits as the fake, cold token included
    ) as burst_pool:
        client = MessagingClient(burst_pool)
        msgs = await asyncio.gather(*(client.send_text("oc_burst", f"n{i}") for i in range(500)))
    assert len({m.message_id for m in msgs}) == 500
    stored = [json.loads(m["content"])["text"] for m in fake.messages if m["chat_id"] == "oc_burst"]
    assert sorted(stored) == sorted(f"n{i}" for i in range(500))
    posts = [r for r in fake.requests if r.path == MSG and r.method == "POST"]
    assert sum(metrics.rate_limits.values()) == 0
    assert len(posts) == 500
    # 100/s per chat, stretched by the limiter's 10% margin: about 5 s of (virtual) time
    assert 4.0 < loop_clock()() - started < 10.0


async def test_burst_without_limiter_meets_429(fake: FakeLark) -> None:
    """Without the limiter the fake answers 429; the transport retries (honouring
    x-ogw-ratelimit-reset, at most 5 times) and whatever is still limited surfaces as
    RateLimitedError. Either way nothing arrives twice."""
    fake.state["im_rate_scale"] = 20
    metrics = InMemoryMetrics()
    async with fake_pool(
        fake,
        apps=make_apps(fake, 1, prefix="cli_raw"),
        metrics=metrics,
        limiter=RateLimiter(limits={}),
    ) as raw_pool:
        client = MessagingClient(raw_pool)
        results = await asyncio.gather(
            *(client.send_text("oc_raw", f"n{i}") for i in range(500)), return_exceptions=True
        )
    ok = [r for r in results if isinstance(r, Message)]
    limited = [r for r in results if isinstance(r, RateLimitedError)]
    assert len(ok) + len(limited) == 500
    assert sum(metrics.rate_limits.values()) > 0  # the fake did answer 429s
    stored = [m for m in fake.messages if m["chat_id"] == "oc_raw"]
    assert len(stored) == len(ok) == len({m["content"] for m in stored})
