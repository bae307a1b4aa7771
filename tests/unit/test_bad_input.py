"""Issue 8 item 7: every public argument is checked for type and shape before any network
call, and a bad one is a `ConfigError` naming the argument.

One table: each case names the argument the error must name and makes the bad call. For
every case, nothing reaches the fake Lark server and no untyped exception escapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lark_service.application import CredentialPool, MessagingClient
from lark_service.application.clients.contact import ContactClient
from lark_service.application.clients.docs import DocClient
from lark_service.application.clients.tables import WorkspaceTableClient
from lark_service.domain import AppConfig
from lark_service.domain.errors import ConfigError
from lark_service.testing.fake_lark import FakeLark

pytestmark = pytest.mark.anyio

CHAT = "oc_chat1"
Case = Callable[[CredentialPool], Awaitable[Any] | Any]
Any_: Any = None  # a value of any type, for arguments deliberately of the wrong type


def msg(pool: CredentialPool) -> MessagingClient:
    return MessagingClient(pool)


def contact(pool: CredentialPool) -> ContactClient:
    return ContactClient(pool)


def docs(pool: CredentialPool) -> DocClient:
    return DocClient(pool)


def tables(pool: CredentialPool) -> WorkspaceTableClient:
    return WorkspaceTableClient(pool)


def bad(value: Any) -> Any:
    """``value`` typed as Any, so the table can pass wrong types where mypy would object."""
    return value


def app(**fields: Any) -> AppConfig:
    base: dict[str, Any] = {"app_id": "cli_ok", "app_secret": "s"}
    return AppConfig(**(base | fields))


CASES: list[tuple[str, Case]] = [
    # AppConfig: every field, type and shape
    ("app_id", lambda p: app(app_id=123)),
    ("app_id", lambda p: app(app_id="cli a")),
    ("app_id", lambda p: app(app_id="x" * 65)),
    ("app_secret", lambda p: app(app_secret=123)),
    ("app_secret", lambda p: app(app_secret="  ")),
    ("app_secret", lambda p: app(app_secret="\ud800")),
    ("name", lambda p: app(name=b"x")),
    ("enabled", lambda p: app(enabled="no")),
    ("is_default", lambda p: app(is_default=1)),
    ("app_type", lambda p: app(app_type="store")),
    ("encrypt_key", lambda p: app(encrypt_key=5)),
    ("domain", lambda p: app(domain=5)),
    ("domain", lambda p: app(domain="https://open.feishu.cn/open-apis/im")),
    ("domain", lambda p: app(domain="https://user:pw@open.feishu.cn")),
    ("domain", lambda p: app(domain="https://open.feishu.cn?x=1")),
    ("domain", lambda p: app(domain="https://open.feishu.cn:99999")),
    ("domain", lambda p: app(domain="ftp://open.feishu.cn")),
    # client construction
    ("access_token", lambda p: MessagingClient(access_token="")),
    ("app_id", lambda p: MessagingClient(p, app_id=bad(5))),
    ("base_url", lambda p: MessagingClient(access_token="t", base_url="https://h/x")),
    ("call_timeout", lambda p: MessagingClient(p, call_timeout=0)),
    ("pool", lambda p: MessagingClient(bad("not a pool"))),
    # sends: receivers
    ("receive_id", lambda p: msg(p).send_text(bad(123), "hi")),
    ("receive_id", lambda p: msg(p).send_text("oc_", "hi")),
    ("receive_id", lambda p: msg(p).send_text("oc_ a\nb", "hi")),
    ("receive_id", lambda p: msg(p).send_text("oc_" + "a" * 100_000, "hi")),
    ("receive_id", lambda p: msg(p).send_text("ou_x", "hi")),
    ("receive_id", lambda p: msg(p).send_text("@", "hi", receive_id_type="email")),
    ("receive_id", lambda p: msg(p).send_text("a@b", "hi", receive_id_type="email")),
    ("receive_id", lambda p: msg(p).send_text(" ", "hi", receive_id_type="user_id")),
    ("receive_id", lambda p: msg(p).send_text("u 1", "hi", receive_id_type="user_id")),
    ("receive_id", lambda p: msg(p).send_text("\ud800", "hi", receive_id_type="user_id")),
    ("receive_id_type", lambda p: msg(p).send_text(CHAT, "hi", receive_id_type="phone")),
    # sends: content, uuid, app_id, timeout
    ("text", lambda p: msg(p).send_text(CHAT, bad(b"\xff\xfe"))),
    ("text", lambda p: msg(p).send_text(CHAT, "\ud800")),
    ("text", lambda p: msg(p).send_text(CHAT, bad(None))),
    ("uuid", lambda p: msg(p).send_text(CHAT, "hi", uuid=bad(5))),
    ("uuid", lambda p: msg(p).send_text(CHAT, "hi", uuid="")),
    ("uuid", lambda p: msg(p).send_text(CHAT, "hi", uuid="u" * 51)),
    ("uuid", lambda p: msg(p).send_text(CHAT, "hi", uuid="a b")),
    ("app_id", lambda p: msg(p).send_text(CHAT, "hi", app_id=bad(5))),
    ("app_id", lambda p: msg(p).send_text(CHAT, "hi", app_id="bad id")),
    ("app_id", lambda p: msg(p).get_bot_info(app_id="")),
    ("timeout", lambda p: msg(p).send_text(CHAT, "hi", timeout=-1)),
    ("timeout", lambda p: msg(p).send_text(CHAT, "hi", timeout=bad("1"))),
    ("timeout", lambda p: msg(p).get_bot_info(timeout=float("nan"))),
    ("unknown", lambda p: msg(p).send_text(CHAT, "hi", **bad({"unknown": 1}))),
    ("content", lambda p: msg(p).send_message(CHAT, "text", bad(5))),
    ("content", lambda p: msg(p).send_message(CHAT, "text", {"text": "\ud800"})),
    ("msg_type", lambda p: msg(p).send_message(CHAT, "texts", "{}")),
    ("reply_in_thread", lambda p: msg(p).reply_text("om_a", "hi", reply_in_thread=bad("y"))),
    ("text", lambda p: msg(p).reply_text("om_a", bad(5))),
    ("message_id", lambda p: msg(p).update_text("om_", "x")),
    ("message_id", lambda p: msg(p).recall_message(bad(None))),
    ("message_id", lambda p: msg(p).get_message("om_a b")),
    ("receivers", lambda p: msg(p).send_batch(bad("oc_a"), "hi")),
    ("receivers", lambda p: msg(p).send_batch(bad(["oc_a", 5]), "hi")),
    ("concurrency", lambda p: msg(p).send_batch(["oc_a"], "hi", concurrency=bad("3"))),
    # history
    ("page_size", lambda p: msg(p).list_messages(CHAT, page_size=bad("10"))),
    ("page_size", lambda p: msg(p).list_messages(CHAT, page_size=bad(True))),
    ("page_size", lambda p: msg(p).list_messages(CHAT, page_size=0)),
    ("start_time", lambda p: msg(p).list_messages(CHAT, start_time=bad("yesterday"))),
    ("end_time", lambda p: msg(p).list_messages(CHAT, end_time=-5)),
    ("container_id", lambda p: msg(p).list_messages("oc a")),
    ("page_token", lambda p: msg(p).list_messages(CHAT, page_token="tok en")),
    # contact
    ("user_id", lambda p: contact(p).get_user(" ")),
    ("user_id", lambda p: contact(p).get_user(bad(123))),
    ("user_id", lambda p: contact(p).batch_get_users(["u1", " "])),
    ("user_ids", lambda p: contact(p).batch_get_users(bad("u1"))),
    ("email", lambda p: contact(p).get_user_by_email("@")),
    ("email", lambda p: contact(p).get_user_by_email("bob")),
    ("mobile", lambda p: contact(p).get_user_by_mobile("call me")),
    ("chat_id", lambda p: contact(p).get_chat("oc_ x")),
    ("department_id", lambda p: contact(p).get_department("")),
    ("page_size", lambda p: contact(p).list_department_users("0", page_size=bad("10"))),
    # docs, drive, sheets, bitable
    ("document_id", lambda p: docs(p).get_document("")),
    ("document_id", lambda p: docs(p).get_document("x" * 100_000)),
    ("doc_type", lambda p: docs(p).delete_file("boxA", doc_type=bad(5))),
    ("range_", lambda p: docs(p).read_range("shtA", bad(5))),
    ("page_size", lambda p: docs(p).list_records("basA", "tblA", page_size=10**9)),
    ("fields", lambda p: docs(p).create_record("basA", "tblA", bad("x"))),
    ("file_token", lambda p: docs(p).download_file("box A")),
    # aPaaS tables
    ("user_id", lambda p: tables(p).query_records("ws", "t", user_id=" ")),
    ("records", lambda p: tables(p).insert_records("ws", "t", bad({"a": 1}), user_id="ou_a")),
    ("sql", lambda p: tables(p).execute_sql("ws", bad(5), user_id="ou_a")),
    ("filter", lambda p: tables(p).query_records("ws", "t", user_id="ou_a", filter=bad(5))),
    ("table_name", lambda p: tables(p).get_table("ws", "", user_id="ou_a")),
]


def test_the_table_has_at_least_62_cases() -> None:
    assert len(CASES) >= 62


@pytest.mark.parametrize(
    ("argument", "case"), CASES, ids=[f"{i:02d}-{a}" for i, (a, _) in enumerate(CASES)]
)
async def test_bad_input_is_a_config_error_naming_the_argument(
    pool: CredentialPool, fake: FakeLark, argument: str, case: Case
) -> None:
    with pytest.raises(ConfigError) as caught:
        result = case(pool)
        if isinstance(result, Awaitable):
            await result
    assert argument in str(caught.value), caught.value
    assert fake.requests == []
