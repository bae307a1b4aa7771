"""Issue 8 item 2: ids cannot change the route or the query of a call.

Every id placed in a URL path goes through `lark_path` (shape checked by its name, then
percent-encoded as one segment) and every path through `check_path`; a crafted id is a
`ConfigError` before anything is sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lark_service.application import CredentialPool, MessagingClient
from lark_service.application.clients.contact import ContactClient
from lark_service.application.clients.docs import DocClient
from lark_service.application.clients.tables import WorkspaceTableClient
from lark_service.domain.errors import ConfigError
from lark_service.domain.models.ids import check_path, lark_path
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark.drive import root_folder

pytestmark = pytest.mark.anyio

Call = Callable[[CredentialPool], Awaitable[Any]]
TRAVERSAL = "/../../../../drive/v1/files/boxTOKEN?type=file"


async def test_recall_with_a_path_in_the_id_deletes_nothing(
    pool: CredentialPool, fake: FakeLark
) -> None:
    docs = DocClient(pool)
    token = await docs.upload_file(
        b"keep me", file_name="keep.txt", parent_node=root_folder(fake, "cli_app0")
    )
    before = len(fake.requests)
    for crafted in (
        f"om_x/../../../../drive/v1/files/{token}?type=file",
        f"om_x%2F..%2F..%2F..%2F..%2Fdrive%2Fv1%2Ffiles%2F{token}",
        "om_x?receive_id_type=chat_id",
        "om_x#frag",
        "om_x/..",
    ):
        with pytest.raises(ConfigError, match="message_id"):
            await MessagingClient(pool).recall_message(crafted)
    assert len(fake.requests) == before
    assert await docs.download_file(token) == b"keep me"


CRAFTED: list[tuple[str, Call]] = [
    ("message_id", lambda p: MessagingClient(p).get_message("om_a" + TRAVERSAL)),
    ("message_id", lambda p: MessagingClient(p).reply_text("om_a/reply", "hi")),
    ("message_id", lambda p: MessagingClient(p).update_text("om_a?x=1", "hi")),
    ("document_id", lambda p: DocClient(p).get_document("doxA" + TRAVERSAL)),
    ("document_id", lambda p: DocClient(p).get_raw_content("..")),
    ("document_id", lambda p: DocClient(p).list_blocks("doxA/blocks")),
    ("block_id", lambda p: DocClient(p).update_block_text("doxA", "blk/../x", "t")),
    ("file_token", lambda p: DocClient(p).delete_file("box/../x", doc_type="file")),
    ("file_token", lambda p: DocClient(p).download_file("box?type=folder")),
    ("token", lambda p: DocClient(p).list_permission_members("d/../x", doc_type="docx")),
    (
        "member_id",
        lambda p: DocClient(p).revoke_permission(
            "doxA", doc_type="docx", member_type="openid", member_id="ou_a/../../x"
        ),
    ),
    (
        "token",
        lambda p: DocClient(p).grant_permission(
            "doxA#x", doc_type="docx", member_type="openid", member_id="ou_a"
        ),
    ),
    ("spreadsheet_token", lambda p: DocClient(p).read_range("shtA/..", "s!A1:B2")),
    ("app_token", lambda p: DocClient(p).list_tables("bas/../x")),
    ("table_id", lambda p: DocClient(p).list_fields("basA", "tbl?x")),
    ("record_id", lambda p: DocClient(p).get_record("basA", "tblA", "rec/..")),
    ("chat_id", lambda p: ContactClient(p).get_chat("oc_a/../../x")),
    ("chat_id", lambda p: ContactClient(p).list_chat_members("oc_")),
    ("user_id", lambda p: ContactClient(p).get_user("u1/../../x")),
    ("department_id", lambda p: ContactClient(p).get_department("d?x=1")),
    ("workspace_id", lambda p: WorkspaceTableClient(p).get_table("..", "t", user_id="ou_a")),
    ("table", lambda p: WorkspaceTableClient(p).get_table("ws", "t\n", user_id="ou_a")),
]


@pytest.mark.parametrize(
    ("argument", "call"), CRAFTED, ids=[f"{a}-{i}" for i, (a, _) in enumerate(CRAFTED)]
)
async def test_crafted_ids_never_reach_lark(
    pool: CredentialPool, fake: FakeLark, argument: str, call: Call
) -> None:
    with pytest.raises(ConfigError, match=argument):
        await call(pool)
    assert fake.requests == []


def test_lark_path_encodes_each_segment() -> None:
    assert (
        lark_path("/open-apis/x/{table}/y", table="a/b?c#d%e f")
        == "/open-apis/x/a%2Fb%3Fc%23d%25e%20f/y"
    )
    assert lark_path("/open-apis/im/v1/messages/{message_id}", message_id="om_a-1_B") == (
        "/open-apis/im/v1/messages/om_a-1_B"
    )
    with pytest.raises(ConfigError):
        lark_path("/open-apis/x/{message_id}/{chat_id}", message_id="om_a")
    with pytest.raises(ConfigError, match="message_id"):
        lark_path("/open-apis/x/{message_id}", message_id="om_a" * 100)


@pytest.mark.parametrize(
    "path",
    [
        "/open-apis/a/../drive",
        "/open-apis/a/./b",
        "/open-apis/a?x=1",
        "/open-apis/a#x",
        "/open-apis/a/%2e%2e/b",
        "/open-apis/a b",
        "/open-apis/é",
        "/other/a",
    ],
)
def test_check_path_refuses_what_could_change_the_route(path: str) -> None:
    with pytest.raises(ConfigError):
        check_path(path)
