"""DocClient docx methods against the fake Lark server, the block builders and the
in-memory adapter."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Awaitable, Callable

import msgspec
import pytest

from lark_service.application import CredentialPool, DocClient
from lark_service.application.clients.blocks import (
    bullet,
    code,
    divider,
    heading,
    ordered,
    paragraph,
    quote_block,
    run,
    todo,
)
from lark_service.application.clients.docx import chunk_tokens
from lark_service.domain.errors import (
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    TokenInvalidError,
)
from lark_service.testing.fake_lark import FakeLark, FakeRequest, RecordedRequest
from lark_service.testing.fake_lark.drive import deny_scope

pytestmark = pytest.mark.anyio
DOCS = "/open-apis/docx/v1/documents"


def calls(fake: FakeLark, prefix: str = "/open-apis/d") -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path.startswith(prefix)]


def assert_tenant(rec: RecordedRequest, app_id: str = "cli_app0") -> None:
    assert rec.headers["authorization"].startswith("Bearer t-")
    assert rec.token_info is not None and rec.token_info.kind == "tenant"
    assert rec.token_info.app_id == app_id


def form_of(rec: RecordedRequest) -> dict[str, bytes]:
    req = FakeRequest(rec.method, rec.path, {}, rec.headers, rec.body)
    return {k: v.data for k, v in req.form().items()}


@pytest.fixture
def docs(pool: CredentialPool) -> DocClient:
    return DocClient(pool)


async def test_create_get_and_raw_content(docs: DocClient, fake: FakeLark) -> None:
    doc = await docs.create_document(title="Weekly")
    (rec,) = calls(fake)
    assert (rec.method, rec.path, rec.json()) == ("POST", DOCS, {"title": "Weekly"})
    assert_tenant(rec)
    assert doc.title == "Weekly" and doc.document_id.startswith("doxcn") and doc.revision_id == 1
    got = await docs.get_document(doc.document_id, app_id="cli_app0")
    assert got == doc and calls(fake)[-1].path == f"{DOCS}/{doc.document_id}"
    await docs.append_blocks(doc.document_id, [paragraph("hello"), bullet("item")])
    assert await docs.get_raw_content(doc.document_id) == "Weekly\nhello\nitem\n"
    assert calls(fake)[-1].path == f"{DOCS}/{doc.document_id}/raw_content"


async def test_list_and_iter_blocks(docs: DocClient, fake: FakeLark) -> None:
    doc = await docs.create_document(title="T")
    await docs.append_blocks(doc.document_id, [paragraph(str(i)) for i in range(4)])
    page = await docs.list_blocks(doc.document_id, page_size=2)
    rec = calls(fake)[-1]
    assert rec.method == "GET" and rec.path == f"{DOCS}/{doc.document_id}/blocks"
    assert dict(rec.query) == {"page_size": "2", "document_revision_id": "-1"}
    assert [b.block_type for b in page.items] == [1, 2] and page.has_more and page.page_token
    page2 = await docs.list_blocks(doc.document_id, page_size=2, page_token=page.page_token)
    assert dict(calls(fake)[-1].query)["page_token"] == page.page_token
    assert [b.body.plain_text for b in page2.items if b.body] == ["1", "2"]
    texts = [
        b.body.plain_text async for b in docs.iter_blocks(doc.document_id, page_size=2) if b.body
    ]
    assert texts == ["T", "0", "1", "2", "3"]


async def test_append_blocks_chunks_by_50_in_order(docs: DocClient, fake: FakeLark) -> None:
    doc = await docs.create_document()
    blocks = [paragraph(f"p{i}") for i in range(120)]
    created = await docs.append_blocks(doc.document_id, blocks, client_token="op-1")
    posts = [r for r in calls(fake) if r.method == "POST" and r.path.endswith("/children")]
    assert [len(r.json()["children"]) for r in posts] == [50, 50, 20]
    assert all(
        r.path == f"{DOCS}/{doc.document_id}/blocks/{doc.document_id}/children" for r in posts
    )
    tokens = [dict(r.query)["client_token"] for r in posts]
    assert tokens == chunk_tokens("op-1", 3) and len(set(tokens)) == 3
    assert [b.text.plain_text for b in created if b.text] == [f"p{i}" for i in range(120)]
    assert all(b.parent_id == doc.document_id and b.block_id for b in created)
    # The same call again repeats the same tokens: Lark (and the fake) add nothing new.
    again = await docs.append_blocks(doc.document_id, blocks, client_token="op-1")
    assert [b.block_id for b in again] == [b.block_id for b in created]
    assert len([b async for b in docs.iter_blocks(doc.document_id)]) == 121


async def test_append_blocks_with_index_and_single_chunk_token(
    docs: DocClient, fake: FakeLark
) -> None:
    doc = await docs.create_document()
    await docs.append_blocks(doc.document_id, [paragraph("a"), paragraph("d")])
    token = str(uuid.uuid4())
    await docs.append_blocks(
        doc.document_id, [paragraph("b"), paragraph("c")], index=1, client_token=token
    )
    rec = calls(fake)[-1]
    assert rec.json()["index"] == 1 and dict(rec.query)["client_token"] == token
    assert (await docs.get_raw_content(doc.document_id)) == "\na\nb\nc\nd\n"


async def test_builders_on_the_wire(docs: DocClient, fake: FakeLark) -> None:
    doc = await docs.create_document()
    styled = run(
        "go",
        bold=True,
        italic=True,
        strikethrough=True,
        inline_code=True,
        link="https://example.com/a?b=1",
    )
    blocks = [
        paragraph("x ", styled),
        heading(9, "h9"),
        ordered("o"),
        quote_block("q"),
        code("print(1)", language="python", wrap=True),
        todo("t", done=True),
        divider(),
    ]
    created = await docs.append_blocks(doc.document_id, blocks)
    sent = calls(fake)[-1].json()["children"]
    assert sent[0]["text"]["elements"][1] == {
        "text_run": {
            "content": "go",
            "text_element_style": {
                "bold": True,
                "italic": True,
                "strikethrough": True,
                "inline_code": True,
                "link": {"url": "https%3A%2F%2Fexample.com%2Fa%3Fb%3D1"},
            },
        }
    }
    assert [c["block_type"] for c in sent] == [2, 11, 13, 15, 14, 17, 22]
    assert sent[4]["code"]["style"] == {"language": 49, "wrap": True}
    assert sent[5]["todo"]["style"] == {"done": True} and sent[6] == {
        "block_type": 22,
        "divider": {},
    }
    todo_block = created[5].todo
    assert created[1].heading9 is not None and todo_block is not None
    assert todo_block.style is not None and todo_block.style.done is True


async def test_update_block_text(docs: DocClient, fake: FakeLark) -> None:
    doc = await docs.create_document()
    (block,) = await docs.append_blocks(doc.document_id, [paragraph("old")])
    updated = await docs.update_block_text(
        doc.document_id, block.block_id, ["new ", run("b", bold=True)]
    )
    rec = calls(fake)[-1]
    assert (rec.method, rec.path) == ("PATCH", f"{DOCS}/{doc.document_id}/blocks/{block.block_id}")
    assert rec.json() == {
        "update_text_elements": {
            "elements": [
                {"text_run": {"content": "new "}},
                {"text_run": {"content": "b", "text_element_style": {"bold": True}}},
            ]
        }
    }
    assert updated.text is not None and updated.text.plain_text == "new b"
    again = await docs.update_block_text(doc.document_id, block.block_id, "plain")
    assert again.text is not None and again.text.plain_text == "plain"


async def test_append_image_three_steps(docs: DocClient, fake: FakeLark) -> None:
    doc = await docs.create_document()
    image = b"\x89PNG fake image bytes"
    block = await docs.append_image(doc.document_id, image, file_name="a.png", width=320)
    create, upload, patch = calls(fake, "/open-apis/d")[-3:]
    assert create.json()["children"] == [{"block_type": 27, "image": {}}]
    assert upload.path == "/open-apis/drive/v1/medias/upload_all"
    assert_tenant(upload)
    form = form_of(upload)
    image_block = patch.path.rsplit("/", 1)[1]
    assert form["parent_type"] == b"docx_image" and form["parent_node"] == image_block.encode()
    assert form["file"] == image and form["size"] == str(len(image)).encode()
    assert form["checksum"] == str(zlib.adler32(image)).encode()
    assert msgspec.json.decode(form["extra"]) == {"drive_route_token": doc.document_id}
    token = patch.json()["replace_image"]["token"]
    assert patch.json()["replace_image"] == {"token": token, "width": 320}
    assert block.block_type == 27 and block.image is not None
    assert block.image.token == token and block.image.width == 320


async def test_errors_not_found_scope_and_forbidden(docs: DocClient, fake: FakeLark) -> None:
    with pytest.raises(NotFoundError) as info:
        await docs.get_document("doxcnmissing")
    assert info.value.code == 1770002 and info.value.http_status == 404
    doc = await docs.create_document(title="mine")
    with pytest.raises(PermissionDeniedError) as denied:
        await docs.get_document(doc.document_id, app_id="cli_app1")
    assert denied.value.code == 1770032 and denied.value.app_id == "cli_app1"
    bot = fake.get_app("cli_app1").open_id
    await docs.grant_permission(
        doc.document_id, doc_type="docx", member_type="openid", member_id=bot, perm="view"
    )
    assert (await docs.get_document(doc.document_id, app_id="cli_app1")).title == "mine"
    with pytest.raises(PermissionDeniedError) as denied:  # view does not allow edits
        await docs.append_blocks(doc.document_id, [paragraph("x")], app_id="cli_app1")
    assert denied.value.code == 1770032
    deny_scope(fake, "cli_app0", "docx")
    with pytest.raises(PermissionDeniedError) as denied:
        await docs.get_raw_content(doc.document_id)
    assert denied.value.code == 99991672 and "docx:document" in denied.value.msg


async def test_token_invalid_refreshes_once_then_fails(docs: DocClient, fake: FakeLark) -> None:
    doc = await docs.create_document(title="t")
    fake.inject_fault("token_invalid", path_prefix=DOCS, count=1)
    assert (await docs.get_document(doc.document_id)).title == "t"
    fake.inject_fault("token_invalid", path_prefix=DOCS, count=2)
    with pytest.raises(TokenInvalidError):
        await docs.get_document(doc.document_id)


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.get_document(""),
        lambda d: d.get_raw_content(""),
        lambda d: d.list_blocks("doxcn1", page_size=501),
        lambda d: d.append_blocks("doxcn1", []),
        lambda d: d.append_blocks("doxcn1", [paragraph("x")], index=-2),
        lambda d: d.append_blocks("doxcn1", [paragraph(123)]),  # type: ignore[arg-type]
        lambda d: d.update_block_text("doxcn1", "", "x"),
        lambda d: d.append_image("doxcn1", b""),
        lambda d: d.append_image("doxcn1", b"x" * (20 * 1024 * 1024 + 1)),
        lambda d: d.append_blocks("doxcn1", [heading(10, "x")]),
        lambda d: d.append_blocks("doxcn1", [code("x", language="klingon")]),
    ],
)
async def test_bad_input_is_rejected_before_any_request(
    docs: DocClient, fake: FakeLark, call: Callable[[DocClient], Awaitable[object]]
) -> None:
    with pytest.raises(ConfigError):
        await call(docs)
    assert fake.requests == []


def test_chunk_tokens() -> None:
    assert chunk_tokens("t", 1) == ["t"]
    assert chunk_tokens("t", 2) == chunk_tokens("t", 2) != chunk_tokens("u", 2)
    assert len(set(chunk_tokens(None, 3))) == 3
