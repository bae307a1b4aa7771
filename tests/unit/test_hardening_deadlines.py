"""Issue 8: a per-call deadline (``timeout=``, the client's and the pool's ``call_timeout``)
bounds a hung Lark reply, retries included, with a typed `CallTimeoutError`; errors of sends
carry the dedup uuid used, so a retry with it stores the message once (item 10)."""

from __future__ import annotations

import asyncio
import inspect
import time

import pytest

from lark_service.application import CredentialPool, MessagingClient
from lark_service.application.clients.contact import ContactClient
from lark_service.application.clients.docs import DocClient
from lark_service.application.clients.tables import WorkspaceTableClient
from lark_service.domain.errors import CallTimeoutError, LarkServiceError, TransportError
from lark_service.testing.fake_lark import FakeLark

pytestmark = pytest.mark.anyio

CHAT = "oc_chat1"
BOT = "/open-apis/bot/"
MESSAGES = "/open-apis/im/v1/messages"


async def _timed_out(call: object) -> tuple[CallTimeoutError, float]:
    started = time.perf_counter()
    with pytest.raises(CallTimeoutError) as caught:
        await call  # type: ignore[misc]
    return caught.value, time.perf_counter() - started


async def test_timeout_bounds_a_hung_reply_and_its_retries(
    pool: CredentialPool, fake: FakeLark
) -> None:
    fake.inject_fault("latency", path_prefix=BOT, latency=1.5, count=3)
    error, elapsed = await _timed_out(MessagingClient(pool).get_bot_info(timeout=0.2))
    assert elapsed < 1.0  # not 3 attempts x the transport's own timeout
    assert isinstance(error, TransportError) and isinstance(error, TimeoutError)
    assert isinstance(error, LarkServiceError) and "0.2 s" in str(error)


async def test_pool_and_client_defaults_apply_and_a_call_overrides_them(
    pool: CredentialPool, fake: FakeLark
) -> None:
    pool.call_timeout = 0.2
    fake.inject_fault("latency", path_prefix=BOT, latency=1.0, count=1)
    _, elapsed = await _timed_out(MessagingClient(pool).get_bot_info())
    assert elapsed < 0.9
    fake.inject_fault("latency", path_prefix=BOT, latency=0.3, count=1)
    info = await MessagingClient(pool).get_bot_info(timeout=5)  # the call's own budget wins
    assert info.app_name == "App 0"
    pool.call_timeout = None
    fake.inject_fault("latency", path_prefix=BOT, latency=1.0, count=1)
    _, elapsed = await _timed_out(MessagingClient(pool, call_timeout=0.2).get_bot_info())
    assert elapsed < 0.9


async def test_timed_out_send_carries_its_uuid_and_a_retry_with_it_stores_once(
    pool: CredentialPool, fake: FakeLark
) -> None:
    client = MessagingClient(pool)
    await client.get_bot_info()  # the token is cached: the deadline is spent on the send
    fake.inject_fault("latency", path_prefix=MESSAGES, latency=0.5, count=1)
    error, _ = await _timed_out(client.send_text(CHAT, "exactly once", timeout=0.1))
    sent = [r.json()["uuid"] for r in fake.requests if r.path == MESSAGES]
    assert error.uuid and sent == [error.uuid]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while ("cli_app0", error.uuid) not in fake.message_uuids:  # Lark stores it after all
        assert loop.time() < deadline
        await asyncio.sleep(0.05)
    stored = fake.message_uuids[("cli_app0", error.uuid)]
    retry = await client.send_text(CHAT, "exactly once", uuid=error.uuid)
    assert retry.message_id == stored["message_id"]
    assert [m["uuid"] for m in fake.messages if m.get("uuid") == error.uuid] == [error.uuid]


async def test_transport_error_of_a_send_carries_the_uuid_it_sent(
    pool: CredentialPool, fake: FakeLark
) -> None:
    client = MessagingClient(pool)
    fake.inject_fault("drop", path_prefix=MESSAGES, count=10)
    with pytest.raises(TransportError) as caught:
        await client.send_text(CHAT, "hello")
    uuids = {r.json()["uuid"] for r in fake.requests if r.path == MESSAGES}
    assert uuids == {caught.value.uuid}  # every retry repeated the one uuid it reports
    fake.clear_faults()
    message = await client.send_text(CHAT, "hello", uuid=caught.value.uuid)
    again = await client.send_text(CHAT, "hello", uuid=caught.value.uuid)
    assert again.message_id == message.message_id


async def test_reply_errors_carry_the_uuid_too(pool: CredentialPool, fake: FakeLark) -> None:
    client = MessagingClient(pool)
    parent = await client.send_text(CHAT, "parent")
    fake.inject_fault("drop", path_prefix=MESSAGES, count=10)
    with pytest.raises(TransportError) as caught:
        await client.reply_text(parent.message_id, "child", uuid="my-uuid-1")
    assert caught.value.uuid == "my-uuid-1"


@pytest.mark.parametrize(
    "client_type", [MessagingClient, ContactClient, DocClient, WorkspaceTableClient]
)
def test_every_client_call_takes_a_timeout(client_type: type) -> None:
    missing = [
        name
        for name, func in inspect.getmembers(client_type, inspect.iscoroutinefunction)
        if not name.startswith("_")
        and name != "aclose"
        and "timeout" not in inspect.signature(func).parameters
    ]
    assert missing == []


async def test_batch_results_keep_each_receivers_uuid(pool: CredentialPool, fake: FakeLark) -> None:
    client = MessagingClient(pool)
    await client.get_bot_info()
    fake.inject_fault("drop", path_prefix=MESSAGES, count=100)
    results = await client.send_batch(["oc_a", "oc_b"], "hi")
    errors = [r.error for r in results]
    assert all(isinstance(e, TransportError) for e in errors)
    uuids = [e.uuid for e in errors if isinstance(e, LarkServiceError)]
    assert len(set(uuids)) == 2 and all(uuids)
    assert {r.json()["uuid"] for r in fake.requests if r.path == MESSAGES} == set(uuids)
