"""Fake drive v1: folders, files, uploads, downloads, doc media and permission members.

Also the shared cloud-docs state used by the docx and sheets modules: every document,
spreadsheet, folder and file is a `Node` owned by the app that created it. Another app may
read or write it only after a permission grant to its bot (``member_type=openid`` with the
bot's open_id, or ``appid`` with its app_id); ``view`` allows reads, ``edit`` writes and
``full_access`` deleting and sharing. Each app has a root folder (`root_folder`).

`deny_scope(fake, app_id, "docx"|"drive"|"sheets")` makes every call of that area from the
app fail with 99991672 (the app lacks the scope), HTTP 400.

Lark's codes (drive error tables): 1061002 params error (400), 1061003 not found (404),
1061004 forbidden (403), 1061007 file has been deleted (404 here), 1061043 file size beyond
limit (400). Permission members: 1063001 invalid parameter (400), 1063002 permission
denied (403), 1063005 resource not found (404). UNCONFIRMED, chosen: checksum mismatch
1062008 and declared size ≠ actual 1062009 (400); 1063005 for a missing member too;
a page token is the offset as ``pt_<n>``; ``upload_part`` with an unknown upload_id is
1061002. Uploads: ``upload_all`` ≤ 20 MB, name ≤ 250 characters, checksum optional (adler32
as a decimal string); multipart parts are ``block_size`` (4 MiB, settable through
``drive_state(fake).block_size``) except the last; ``upload_finish`` needs every part.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from lark_service.domain.models.docs import (
    FILE_DIRECTIONS,
    FILE_ORDER_BY,
    MAX_FILE_NAME_CHARS,
    MAX_FILES_PAGE_SIZE,
)
from lark_service.testing.fake_lark.drive_medias import register_medias
from lark_service.testing.fake_lark.drive_permissions import register_permissions
from lark_service.testing.fake_lark.drive_state import (
    MAX_UPLOAD_ALL,
    SCOPES,
    DriveState,
    Node,
    Upload,
    add_node,
    check_file,
    check_scope,
    deny_scope,
    drive_node,
    drive_state,
    find_node,
    forbidden,
    int_param,
    new_token,
    not_found,
    params_error,
    require_access,
    root_folder,
    url_of,
)
from lark_service.testing.fake_lark.models import FakeRequest, FormPart, TokenInfo

if TYPE_CHECKING:
    from lark_service.testing.fake_lark.server import FakeLark, HandlerResult

# The state and shared helpers live in drive_state; they stay importable from here.
__all__ = [
    "MAX_UPLOAD_ALL",
    "SCOPES",
    "DriveState",
    "Node",
    "Upload",
    "add_node",
    "check_scope",
    "deny_scope",
    "drive_state",
    "find_node",
    "forbidden",
    "new_token",
    "not_found",
    "register",
    "register_medias",
    "register_permissions",
    "require_access",
    "root_folder",
    "url_of",
]


def _page(
    items: list[Node], req: FakeRequest, max_size: int, default: int
) -> tuple[list[Node], str]:
    size = int_param(req.query.get("page_size") or str(default), "page_size")
    if not 1 <= size <= max_size:
        raise params_error(f"page_size must be 1-{max_size}")
    token = req.query.get("page_token") or "pt_0"
    if not token.startswith("pt_") or not token[3:].isdigit():
        raise params_error("page_token is invalid")
    start = int(token[3:])
    nxt = start + size
    return items[start:nxt], (f"pt_{nxt}" if nxt < len(items) else "")


def _file_view(node: Node) -> dict[str, Any]:
    return {
        "token": node.token,
        "name": node.name,
        "type": node.type,
        "parent_token": node.parent_token,
        "url": url_of(node),
        "created_time": str(node.created),
        "modified_time": str(node.modified),
        "owner_id": node.owner_app,
    }


def register(fake: FakeLark) -> None:
    """Register the drive file routes, and (from drive_medias and drive_permissions) the
    media and permission-member ones."""
    fake.on_reset(lambda: fake.state.pop("drive", None))
    files = "/open-apis/drive/v1/files"

    def auth(req: FakeRequest) -> TokenInfo:
        info = fake.require_token(req)
        check_scope(fake, info, "drive")
        return info

    def folder(info: TokenInfo, token: str | None, need: str) -> Node:
        node = drive_node(fake, token or root_folder(fake, info.app_id))
        if node.type != "folder":
            raise params_error("not a folder")
        require_access(fake, info, node, need, forbidden())
        return node

    @fake.route("GET", files)
    async def list_files(req: FakeRequest) -> HandlerResult:
        info = auth(req)
        parent = folder(info, req.query.get("folder_token"), "view")
        order_by = req.query.get("order_by") or "EditedTime"
        direction = req.query.get("direction") or "DESC"
        if order_by not in FILE_ORDER_BY or direction not in FILE_DIRECTIONS:
            raise params_error("order_by or direction")
        seq = list(drive_state(fake).nodes.values())  # insertion order breaks ties
        items = [n for n in seq if n.parent_token == parent.token]
        key = "modified" if order_by == "EditedTime" else "created"
        items.sort(key=lambda n: getattr(n, key), reverse=direction == "DESC")
        page, token = _page(items, req, MAX_FILES_PAGE_SIZE, 100)
        return {
            "files": [_file_view(n) for n in page],
            "has_more": bool(token),
            "next_page_token": token,
        }

    @fake.route("POST", f"{files}/create_folder")
    async def create_folder(req: FakeRequest) -> HandlerResult:
        info = auth(req)
        body = req.json()
        name, parent_token = body.get("name"), body.get("folder_token")
        if not isinstance(name, str) or not name or not isinstance(parent_token, str):
            raise params_error("name and folder_token are required")
        parent = folder(info, parent_token, "edit")
        node = add_node(
            fake,
            token=new_token("fld"),
            type="folder",
            name=name,
            parent=parent.token,
            app_id=info.app_id,
        )
        return {"token": node.token, "url": url_of(node)}

    def upload_target(info: TokenInfo, parts: dict[str, FormPart] | dict[str, Any]) -> Node:
        def text(key: str) -> str:
            v = parts.get(key)
            return v.text if isinstance(v, FormPart) else str(v or "")

        name = text("file_name")
        if not name or len(name) > MAX_FILE_NAME_CHARS:
            raise params_error(f"file_name must be 1-{MAX_FILE_NAME_CHARS} characters")
        if text("parent_type") != "explorer":
            raise params_error("parent_type must be explorer")
        return folder(info, text("parent_node"), "edit")

    @fake.route("POST", f"{files}/upload_all")
    async def upload_all(req: FakeRequest) -> HandlerResult:
        info = auth(req)
        parts = req.form()
        parent = upload_target(info, parts)
        data = check_file(parts, MAX_UPLOAD_ALL)
        node = add_node(
            fake,
            token=new_token("box"),
            type="file",
            name=parts["file_name"].text,
            parent=parent.token,
            app_id=info.app_id,
            content=data,
        )
        return {"file_token": node.token}

    @fake.route("POST", f"{files}/upload_prepare")
    async def upload_prepare(req: FakeRequest) -> HandlerResult:
        info = auth(req)
        body = req.json()
        parent = upload_target(info, body)
        size = body.get("size")
        if not isinstance(size, int) or size < 0:
            raise params_error("size must be an integer >= 0")
        st = drive_state(fake)
        num = max(1, math.ceil(size / st.block_size))
        up = Upload(
            new_token(""), info.app_id, body["file_name"], parent.token, size, st.block_size, num
        )
        st.uploads[up.upload_id] = up
        return {"upload_id": up.upload_id, "block_size": up.block_size, "block_num": num}

    def upload_of(info: TokenInfo, upload_id: str) -> Upload:
        up = drive_state(fake).uploads.get(upload_id)
        if up is None or up.app_id != info.app_id:
            raise params_error("upload_id is unknown")
        return up

    @fake.route("POST", f"{files}/upload_part")
    async def upload_part(req: FakeRequest) -> HandlerResult:
        info = auth(req)
        parts = req.form()
        up = upload_of(info, parts["upload_id"].text if "upload_id" in parts else "")
        seq = int_param(parts["seq"].text if "seq" in parts else None, "seq")
        if not 0 <= seq < up.block_num:
            raise params_error("seq is out of range")
        data = check_file(parts, None)
        expected = min(up.block_size, up.size - seq * up.block_size)
        if len(data) != expected:
            raise params_error(f"block {seq} must hold {expected} bytes")
        up.parts[seq] = data
        return {}

    @fake.route("POST", f"{files}/upload_finish")
    async def upload_finish(req: FakeRequest) -> HandlerResult:
        info = auth(req)
        body = req.json()
        up = upload_of(info, str(body.get("upload_id") or ""))
        if body.get("block_num") != up.block_num or len(up.parts) != up.block_num:
            raise params_error("block_num does not match the uploaded parts")
        data = b"".join(up.parts[i] for i in range(up.block_num))
        del drive_state(fake).uploads[up.upload_id]
        node = add_node(
            fake,
            token=new_token("box"),
            type="file",
            name=up.file_name,
            parent=up.parent_node,
            app_id=info.app_id,
            content=data,
        )
        return {"file_token": node.token}

    @fake.route("GET", files + "/{file_token}/download")
    async def download(req: FakeRequest) -> HandlerResult:
        info = auth(req)
        node = drive_node(fake, req.path_params["file_token"])
        if node.type != "file":
            raise params_error("only files can be downloaded")
        require_access(fake, info, node, "view", forbidden())
        disposition = f'attachment; filename="{node.name}"'
        return Response(
            node.content,
            media_type="application/octet-stream",
            headers={"Content-Disposition": disposition},
        )

    @fake.route("DELETE", files + "/{file_token}")
    async def delete(req: FakeRequest) -> HandlerResult:
        info = auth(req)
        node = drive_node(fake, req.path_params["file_token"])
        if req.query.get("type") != node.type:
            raise params_error("type does not match the file")
        require_access(fake, info, node, "full_access", forbidden())
        st = drive_state(fake)
        doomed = [node.token]
        for token in doomed:  # grows while walking: a folder takes its contents along
            doomed += [n.token for n in st.nodes.values() if n.parent_token == token]
        for token in doomed:
            st.nodes.pop(token, None)
            st.deleted.add(token)
        return {"task_id": new_token("task")} if node.type == "folder" else {}

    register_medias(fake)
    register_permissions(fake)
