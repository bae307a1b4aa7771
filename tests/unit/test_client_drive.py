"""DocClient drive and permission methods against the fake Lark server, and the in-memory
adapter."""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from lark_service.application import CredentialPool, DocClient
from lark_service.domain.errors import (
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    TokenInvalidError,
)
from lark_service.testing.fake_lark import FakeLark, FakeRequest, RecordedRequest
from lark_service.testing.fake_lark.drive import deny_scope, drive_state, root_folder

pytestmark = pytest.mark.anyio
FILES = "/open-apis/drive/v1/files"
PERMS = "/open-apis/drive/v1/permissions"


def calls(fake: FakeLark, prefix: str = "/open-apis/drive") -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path.startswith(prefix)]


def form_of(rec: RecordedRequest) -> dict[str, bytes]:
    req = FakeRequest(rec.method, rec.path, {}, rec.headers, rec.body)
    return {k: v.data for k, v in req.form().items()}


def assert_tenant(rec: RecordedRequest, app_id: str = "cli_app0") -> None:
    assert rec.headers["authorization"].startswith("Bearer t-")
    assert rec.token_info is not None and rec.token_info.kind == "tenant"
    assert rec.token_info.app_id == app_id


@pytest.fixture
def docs(pool: CredentialPool) -> DocClient:
    return DocClient(pool)


async def test_create_folder_and_list_files(docs: DocClient, fake: FakeLark) -> None:
    root = root_folder(fake, "cli_app0")
    folder = await docs.create_folder("Reports", folder_token=root)
    rec = calls(fake)[-1]
    assert (rec.method, rec.path) == ("POST", f"{FILES}/create_folder")
    assert rec.json() == {"name": "Reports", "folder_token": root}
    assert_tenant(rec)
    assert folder.token.startswith("fld") and folder.url.endswith(folder.token)
    for i in range(3):
        fake.advance(1)
        await docs.upload_file(b"x", file_name=f"f{i}.txt", parent_node=folder.token)
    page = await docs.list_files(folder.token, page_size=2, order_by="CreatedTime", direction="ASC")
    rec = calls(fake)[-1]
    assert rec.method == "GET" and rec.path == FILES
    assert dict(rec.query) == {
        "folder_token": folder.token,
        "page_size": "2",
        "order_by": "CreatedTime",
        "direction": "ASC",
    }
    assert [f.name for f in page.items] == ["f0.txt", "f1.txt"]
    assert page.has_more and page.page_token  # Lark's next_page_token
    rest = await docs.list_files(folder.token, page_size=2, page_token=page.page_token)
    assert dict(calls(fake)[-1].query)["page_token"] == page.page_token
    assert len(rest.items) == 1 and not rest.has_more and rest.page_token is None
    names = [f.name async for f in docs.iter_files(folder.token, page_size=1)]
    assert names == ["f2.txt", "f1.txt", "f0.txt"]  # EditedTime DESC by default
    top = await docs.list_files()
    assert "folder_token" not in dict(calls(fake)[-1].query)
    assert [(f.name, f.type, f.parent_token) for f in top.items] == [("Reports", "folder", root)]


async def test_upload_all_and_download(docs: DocClient, fake: FakeLark, tmp_path: Path) -> None:
    root = root_folder(fake, "cli_app0")
    data = b"hello drive"
    token = await docs.upload_file(data, file_name="h.txt", parent_node=root)
    rec = calls(fake)[-1]
    assert rec.path == f"{FILES}/upload_all" and rec.headers["content-type"].startswith(
        "multipart/form-data"
    )
    assert_tenant(rec)
    assert form_of(rec) == {
        "file_name": b"h.txt",
        "parent_type": b"explorer",
        "parent_node": root.encode(),
        "size": b"11",
        "checksum": str(zlib.adler32(data)).encode(),
        "file": data,
    }
    assert await docs.download_file(token) == data
    rec = calls(fake)[-1]
    assert (rec.method, rec.path) == ("GET", f"{FILES}/{token}/download")
    path = tmp_path / "big.bin"
    path.write_bytes(b"from a path")
    token2 = await docs.upload_file(path, file_name="p.bin", parent_node=root)
    assert await docs.download_file(token2) == b"from a path"


async def test_chunked_upload_uses_block_size_and_checksums(
    docs: DocClient, fake: FakeLark
) -> None:
    root = root_folder(fake, "cli_app0")
    drive_state(fake).block_size = 4  # Lark says 4 MB; the client must use what it is told
    data = b"0123456789"
    token = await docs.upload_file(data, file_name="c.bin", parent_node=root, chunked=True)
    prepare, *parts, finish = calls(fake, f"{FILES}/upload")
    assert prepare.path.endswith("upload_prepare")
    assert prepare.json() == {
        "file_name": "c.bin",
        "parent_type": "explorer",
        "parent_node": root,
        "size": 10,
    }
    forms = [form_of(p) for p in parts]
    assert [f["file"] for f in forms] == [b"0123", b"4567", b"89"]
    assert [f["seq"] for f in forms] == [b"0", b"1", b"2"]
    assert all(f["checksum"] == str(zlib.adler32(f["file"])).encode() for f in forms)
    upload_id = forms[0]["upload_id"].decode()
    assert finish.json() == {"upload_id": upload_id, "block_num": 3}
    assert await docs.download_file(token) == data


async def test_fake_rejects_wrong_checksum_and_oversize(docs: DocClient, fake: FakeLark) -> None:
    import httpx

    root = root_folder(fake, "cli_app0")
    token = await docs.pool.get_token(docs.resolve_app())  # type: ignore[union-attr]
    files = {"file": ("a.txt", b"abc")}
    data = {
        "file_name": "a.txt",
        "parent_type": "explorer",
        "parent_node": root,
        "size": "3",
        "checksum": "1",
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake.app), base_url="http://fake"
    ) as http:
        reply = await http.post(
            f"{FILES}/upload_all",
            data=data,
            files=files,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert reply.status_code == 400 and reply.json()["code"] == 1062008
    data["size"] = str(20 * 1024 * 1024 + 1)  # the fake enforces the 20 MB cap too
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake.app), base_url="http://fake"
    ) as http:
        reply = await http.post(
            f"{FILES}/upload_all",
            data=data,
            files=files,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert reply.status_code == 400 and reply.json()["code"] == 1061043


async def test_delete_file_and_folder(docs: DocClient, fake: FakeLark) -> None:
    root = root_folder(fake, "cli_app0")
    token = await docs.upload_file(b"x", file_name="x", parent_node=root)
    assert await docs.delete_file(token, doc_type="file") == ""
    rec = calls(fake)[-1]
    assert (rec.method, rec.path, dict(rec.query)) == (
        "DELETE",
        f"{FILES}/{token}",
        {"type": "file"},
    )
    with pytest.raises(NotFoundError) as info:
        await docs.download_file(token)
    assert info.value.code == 1061007
    folder = await docs.create_folder("F", folder_token=root)
    assert (await docs.delete_file(folder.token, doc_type="folder")).startswith("task")
    with pytest.raises(NotFoundError) as info:
        await docs.list_files("fldnothere")
    assert info.value.code == 1061003


async def test_permissions_grant_list_revoke(docs: DocClient, fake: FakeLark) -> None:
    doc = await docs.create_document(title="shared")
    member = await docs.grant_permission(
        doc.document_id,
        doc_type="docx",
        member_type="email",
        member_id="a@b.c",
        perm="edit",
        need_notification=True,
    )
    rec = calls(fake)[-1]
    assert (rec.method, rec.path) == ("POST", f"{PERMS}/{doc.document_id}/members")
    assert dict(rec.query) == {"type": "docx", "need_notification": "true"}
    assert rec.json() == {"member_type": "email", "member_id": "a@b.c", "perm": "edit"}
    assert_tenant(rec)
    assert (member.member_type, member.member_id, member.perm) == ("email", "a@b.c", "edit")
    members = await docs.list_permission_members(doc.document_id, doc_type="docx")
    rec = calls(fake)[-1]
    assert (rec.method, dict(rec.query)) == ("GET", {"type": "docx"})
    assert [(m.member_id, m.perm) for m in members] == [("a@b.c", "edit")]
    await docs.revoke_permission(
        doc.document_id, doc_type="docx", member_type="email", member_id="a@b.c"
    )
    rec = calls(fake)[-1]
    assert (rec.method, rec.path) == ("DELETE", f"{PERMS}/{doc.document_id}/members/a@b.c")
    assert dict(rec.query) == {"type": "docx", "member_type": "email"}
    assert await docs.list_permission_members(doc.document_id, doc_type="docx") == []
    with pytest.raises(NotFoundError):
        await docs.revoke_permission(
            doc.document_id, doc_type="docx", member_type="email", member_id="a@b.c"
        )
    with pytest.raises(PermissionDeniedError) as info:  # only the owner may share
        await docs.grant_permission(
            doc.document_id,
            doc_type="docx",
            member_type="openid",
            member_id="ou_x",
            app_id="cli_app1",
        )
    assert info.value.code == 1063002


async def test_scope_denied_and_forbidden(docs: DocClient, fake: FakeLark) -> None:
    root = root_folder(fake, "cli_app0")
    token = await docs.upload_file(b"secret", file_name="s", parent_node=root)
    with pytest.raises(PermissionDeniedError) as info:
        await docs.download_file(token, app_id="cli_app1")
    assert info.value.code == 1061004 and info.value.http_status == 403
    deny_scope(fake, "cli_app0", "drive")
    with pytest.raises(PermissionDeniedError) as info:
        await docs.list_files()
    assert info.value.code == 99991672
    deny_scope(fake, "cli_app0", "drive", denied=False)
    assert (await docs.list_files()).items


async def test_token_invalid_refreshes_once_then_fails(docs: DocClient, fake: FakeLark) -> None:
    fake.inject_fault("token_invalid", path_prefix=FILES, count=1)
    assert (await docs.list_files()).items == []
    fake.inject_fault("token_invalid", path_prefix=FILES, count=2)
    with pytest.raises(TokenInvalidError):
        await docs.list_files()


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.list_files(page_size=201),
        lambda d: d.list_files(order_by="Name"),
        lambda d: d.list_files(direction="UP"),
        lambda d: d.create_folder("", folder_token="fld"),
        lambda d: d.create_folder("x", folder_token=""),
        lambda d: d.upload_file(b"x", file_name="", parent_node="fld"),
        lambda d: d.upload_file(b"x", file_name="a" * 251, parent_node="fld"),
        lambda d: d.upload_file(b"x", file_name="a", parent_node="fld", parent_type="docx"),
        lambda d: d.upload_file(
            b"x" * (20 * 1024 * 1024 + 1), file_name="a", parent_node="f", chunked=False
        ),
        lambda d: d.download_file(""),
        lambda d: d.delete_file("box", doc_type="pdf"),
        lambda d: d.grant_permission("t", doc_type="docx", member_type="phone", member_id="1"),
        lambda d: d.grant_permission(
            "t", doc_type="docx", member_type="openid", member_id="x", perm="owner"
        ),
        lambda d: d.grant_permission("t", doc_type="pdf", member_type="openid", member_id="x"),
        lambda d: d.list_permission_members("", doc_type="docx"),
        lambda d: d.revoke_permission("t", doc_type="docx", member_type="openid", member_id=""),
    ],
)
async def test_bad_input_is_rejected_before_any_request(
    docs: DocClient, fake: FakeLark, call: Callable[[DocClient], Awaitable[object]]
) -> None:
    with pytest.raises(ConfigError):
        await call(docs)
    assert fake.requests == []


async def test_fake_download_is_binary_with_content_disposition(
    docs: DocClient, fake: FakeLark
) -> None:
    import httpx

    file_token = await docs.upload_file(
        b"\x00\x01", file_name="r.bin", parent_node=root_folder(fake, "cli_app0")
    )
    token = await docs.pool.get_token(docs.resolve_app())  # type: ignore[union-attr]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake.app), base_url="http://fake"
    ) as http:
        reply = await http.get(
            f"{FILES}/{file_token}/download", headers={"Authorization": f"Bearer {token}"}
        )
    assert reply.status_code == 200 and reply.content == b"\x00\x01"
    assert reply.headers["content-type"] == "application/octet-stream"
    assert reply.headers["content-disposition"] == 'attachment; filename="r.bin"'
