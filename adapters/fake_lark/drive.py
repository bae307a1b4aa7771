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

import hashlib
import math
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from adapters.fake_lark.models import FakeLarkError, FakeRequest, FormPart, TokenInfo

if TYPE_CHECKING:
    from adapters.fake_lark.server import FakeLark, HandlerResult

MAX_UPLOAD_ALL = 20 * 1024 * 1024
PERM_RANK = {"view": 1, "edit": 2, "full_access": 3}
SCOPES = {"docx": "docx:document", "drive": "drive:drive", "sheets": "sheets:spreadsheet"}
PERMISSION_TYPES = frozenset(
    {"doc", "sheet", "file", "wiki", "bitable", "docx", "folder", "mindnote", "minutes", "slides"}
)
MEMBER_TYPES = frozenset(
    {
        "email",
        "openid",
        "unionid",
        "openchat",
        "opendepartmentid",
        "userid",
        "groupid",
        "appid",
        "wikispaceid",
    }
)


@dataclass
class Node:
    token: str
    type: str  # folder, file, docx, sheet, …
    name: str
    parent_token: str
    owner_app: str
    created: int
    modified: int
    content: bytes = b""
    members: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass
class Upload:
    upload_id: str
    app_id: str
    file_name: str
    parent_node: str
    size: int
    block_size: int
    block_num: int
    parts: dict[int, bytes] = field(default_factory=dict)


@dataclass
class DriveState:
    nodes: dict[str, Node] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    uploads: dict[str, Upload] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)
    denied: set[tuple[str, str]] = field(default_factory=set)
    medias: dict[str, dict[str, Any]] = field(default_factory=dict)
    block_size: int = 4 * 1024 * 1024
    seq: int = 0


def drive_state(fake: FakeLark) -> DriveState:
    st = fake.state.get("drive")
    if st is None:
        st = fake.state["drive"] = DriveState()
    if not isinstance(st, DriveState):  # pragma: no cover - state is ours
        raise TypeError("drive state is corrupt")
    return st


def deny_scope(fake: FakeLark, app_id: str, area: str, denied: bool = True) -> None:
    """Make the app lack (or regain) the scope of ``area`` (docx, drive or sheets)."""
    key = (app_id, area)
    st = drive_state(fake)
    if denied:
        st.denied.add(key)
    else:
        st.denied.discard(key)


def check_scope(fake: FakeLark, info: TokenInfo, area: str) -> None:
    if (info.app_id, area) in drive_state(fake).denied:
        msg = f"Access denied. One of the following scopes is required: [{SCOPES[area]}]."
        raise FakeLarkError(400, 99991672, msg)


def new_token(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def root_folder(fake: FakeLark, app_id: str) -> str:
    """The app's root folder ("my space"), created on first use."""
    st = drive_state(fake)
    token = st.roots.get(app_id)
    if token is None:
        token = "fld" + hashlib.sha256(f"root:{app_id}".encode()).hexdigest()[:24]
        st.roots[app_id] = token
        add_node(fake, token=token, type="folder", name="", parent="", app_id=app_id)
    return token


def add_node(
    fake: FakeLark,
    *,
    token: str,
    type: str,
    name: str,
    parent: str,
    app_id: str,
    content: bytes = b"",
) -> Node:
    st = drive_state(fake)
    st.seq += 1
    now = int(fake.now())
    node = Node(token, type, name, parent, app_id, now, now, content)
    st.nodes[token] = node
    return node


def find_node(fake: FakeLark, token: str, missing: FakeLarkError) -> Node:
    node = drive_state(fake).nodes.get(token)
    if node is None:
        raise missing
    return node


def app_open_id(fake: FakeLark, app_id: str) -> str:
    return fake.get_app(app_id).open_id


def access_level(fake: FakeLark, info: TokenInfo, node: Node) -> int:
    if node.owner_app == info.app_id:
        return PERM_RANK["full_access"]
    keys = [("appid", info.app_id), ("openid", app_open_id(fake, info.app_id))]
    if info.user_id:
        keys += [("openid", info.user_id), ("userid", info.user_id)]
    return max((PERM_RANK.get(node.members.get(k, ""), 0) for k in keys), default=0)


def require_access(
    fake: FakeLark, info: TokenInfo, node: Node, need: str, denied: FakeLarkError
) -> None:
    if access_level(fake, info, node) < PERM_RANK[need]:
        raise denied


def url_of(node: Node) -> str:
    kind = "drive/folder" if node.type == "folder" else node.type
    return f"https://fake-lark.invalid/{kind}/{node.token}"


def _params(msg: str) -> FakeLarkError:
    return FakeLarkError(400, 1061002, f"params error. {msg}")


def not_found() -> FakeLarkError:
    return FakeLarkError(404, 1061003, "not found.")


def forbidden() -> FakeLarkError:
    return FakeLarkError(403, 1061004, "forbidden.")


def _drive_node(fake: FakeLark, token: str) -> Node:
    if token in drive_state(fake).deleted:
        raise FakeLarkError(404, 1061007, "file has been delete.")
    return find_node(fake, token, not_found())


def _int(value: str | None, name: str) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise _params(f"{name} must be an integer") from None


def _check_file(parts: dict[str, FormPart], limit: int | None) -> bytes:
    """The ``file`` part, checked against ``size``, ``checksum`` and ``limit``."""
    file = parts.get("file")
    if file is None or file.filename is None:
        raise _params("file is required")
    size = _int(parts["size"].text if "size" in parts else None, "size")
    if limit is not None and size > limit:
        raise FakeLarkError(400, 1061043, "file size beyond limit.")
    if size != len(file.data):
        raise FakeLarkError(400, 1062009, "the actual size is inconsistent with the size")
    checksum = parts.get("checksum")
    if checksum is not None and checksum.text and checksum.text != str(zlib.adler32(file.data)):
        raise FakeLarkError(400, 1062008, "checksum param Invalid.")
    return file.data


def _page(
    items: list[Node], req: FakeRequest, max_size: int, default: int
) -> tuple[list[Node], str]:
    size = _int(req.query.get("page_size") or str(default), "page_size")
    if not 1 <= size <= max_size:
        raise _params(f"page_size must be 1-{max_size}")
    token = req.query.get("page_token") or "pt_0"
    if not token.startswith("pt_") or not token[3:].isdigit():
        raise _params("page_token is invalid")
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
    """Register the drive file, media and permission routes."""
    fake.on_reset(lambda: fake.state.pop("drive", None))
    files = "/open-apis/drive/v1/files"

    def auth(req: FakeRequest) -> TokenInfo:
        info = fake.require_token(req)
        check_scope(fake, info, "drive")
        return info

    def folder(info: TokenInfo, token: str | None, need: str) -> Node:
        node = _drive_node(fake, token or root_folder(fake, info.app_id))
        if node.type != "folder":
            raise _params("not a folder")
        require_access(fake, info, node, need, forbidden())
        return node

    @fake.route("GET", files)
    async def list_files(req: FakeRequest) -> HandlerResult:
        info = auth(req)
        parent = folder(info, req.query.get("folder_token"), "view")
        order_by = req.query.get("order_by") or "EditedTime"
        direction = req.query.get("direction") or "DESC"
        if order_by not in ("EditedTime", "CreatedTime") or direction not in ("ASC", "DESC"):
            raise _params("order_by or direction")
        seq = list(drive_state(fake).nodes.values())  # insertion order breaks ties
        items = [n for n in seq if n.parent_token == parent.token]
        key = "modified" if order_by == "EditedTime" else "created"
        items.sort(key=lambda n: getattr(n, key), reverse=direction == "DESC")
        page, token = _page(items, req, 200, 100)
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
            raise _params("name and folder_token are required")
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
        if not name or len(name) > 250:
            raise _params("file_name must be 1-250 characters")
        if text("parent_type") != "explorer":
            raise _params("parent_type must be explorer")
        return folder(info, text("parent_node"), "edit")

    @fake.route("POST", f"{files}/upload_all")
    async def upload_all(req: FakeRequest) -> HandlerResult:
        info = auth(req)
        parts = req.form()
        parent = upload_target(info, parts)
        data = _check_file(parts, MAX_UPLOAD_ALL)
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
            raise _params("size must be an integer >= 0")
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
            raise _params("upload_id is unknown")
        return up

    @fake.route("POST", f"{files}/upload_part")
    async def upload_part(req: FakeRequest) -> HandlerResult:
        info = auth(req)
        parts = req.form()
        up = upload_of(info, parts["upload_id"].text if "upload_id" in parts else "")
        seq = _int(parts["seq"].text if "seq" in parts else None, "seq")
        if not 0 <= seq < up.block_num:
            raise _params("seq is out of range")
        data = _check_file(parts, None)
        expected = min(up.block_size, up.size - seq * up.block_size)
        if len(data) != expected:
            raise _params(f"block {seq} must hold {expected} bytes")
        up.parts[seq] = data
        return {}

    @fake.route("POST", f"{files}/upload_finish")
    async def upload_finish(req: FakeRequest) -> HandlerResult:
        info = auth(req)
        body = req.json()
        up = upload_of(info, str(body.get("upload_id") or ""))
        if body.get("block_num") != up.block_num or len(up.parts) != up.block_num:
            raise _params("block_num does not match the uploaded parts")
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
        node = _drive_node(fake, req.path_params["file_token"])
        if node.type != "file":
            raise _params("only files can be downloaded")
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
        node = _drive_node(fake, req.path_params["file_token"])
        if req.query.get("type") != node.type:
            raise _params("type does not match the file")
        require_access(fake, info, node, "full_access", forbidden())
        st = drive_state(fake)
        doomed = [node.token]
        for token in doomed:  # grows while walking: a folder takes its contents along
            doomed += [n.token for n in st.nodes.values() if n.parent_token == token]
        for token in doomed:
            st.nodes.pop(token, None)
            st.deleted.add(token)
        return {"task_id": new_token("task")} if node.type == "folder" else {}

    @fake.route("POST", "/open-apis/drive/v1/medias/upload_all")
    async def media_upload(req: FakeRequest) -> HandlerResult:
        info = fake.require_token(req)
        parts = req.form()
        parent_type = parts["parent_type"].text if "parent_type" in parts else ""
        parent_node = parts["parent_node"].text if "parent_node" in parts else ""
        area = parent_type.split("_", 1)[0]
        check_scope(fake, info, area if area in SCOPES else "drive")
        if not parent_type or not parent_node:
            raise _params("parent_type and parent_node are required")
        data = _check_file(parts, MAX_UPLOAD_ALL)
        token = new_token("boxmedia")
        drive_state(fake).medias[token] = {
            "parent_type": parent_type,
            "parent_node": parent_node,
            "data": data,
            "app_id": info.app_id,
            "extra": parts["extra"].text if "extra" in parts else "",
        }
        return {"file_token": token}

    register_permissions(fake)


def register_permissions(fake: FakeLark) -> None:
    base = "/open-apis/drive/v1/permissions/{token}/members"

    def bad(msg: str) -> FakeLarkError:
        return FakeLarkError(400, 1063001, f"Invalid parameter: {msg}")

    def missing() -> FakeLarkError:
        return FakeLarkError(404, 1063005, "Resource not found")

    def target(req: FakeRequest, need: str) -> tuple[TokenInfo, Node]:
        info = fake.require_token(req)
        check_scope(fake, info, "drive")
        doc_type = req.query.get("type", "")
        if doc_type not in PERMISSION_TYPES:
            raise bad("type")
        node = find_node(fake, req.path_params["token"], missing())
        if node.type != doc_type:
            raise bad("type does not match the token")
        require_access(fake, info, node, need, FakeLarkError(403, 1063002, "Permission denied"))
        return info, node

    def member_view(key: tuple[str, str], perm: str) -> dict[str, Any]:
        kind = {"openchat": "chat", "opendepartmentid": "department", "groupid": "group"}
        return {
            "member_type": key[0],
            "member_id": key[1],
            "perm": perm,
            "perm_type": "container",
            "type": kind.get(key[0], "user"),
        }

    @fake.route("POST", base)
    async def grant(req: FakeRequest) -> HandlerResult:
        _, node = target(req, "full_access")
        body = req.json()
        member_type, member_id, perm = (body.get(k) for k in ("member_type", "member_id", "perm"))
        if member_type not in MEMBER_TYPES or perm not in PERM_RANK:
            raise bad("member_type or perm")
        if not isinstance(member_id, str) or not member_id:
            raise bad("member_id")
        node.members[(member_type, member_id)] = perm
        return {"member": member_view((member_type, member_id), perm)}

    @fake.route("GET", base)
    async def list_members(req: FakeRequest) -> HandlerResult:
        _, node = target(req, "view")
        return {"items": [member_view(k, p) for k, p in node.members.items()]}

    @fake.route("DELETE", base + "/{member_id}")
    async def revoke(req: FakeRequest) -> HandlerResult:
        _, node = target(req, "full_access")
        key = (req.query.get("member_type", ""), req.path_params["member_id"])
        if key[0] not in MEMBER_TYPES:
            raise bad("member_type")
        if node.members.pop(key, None) is None:
            raise missing()
        return {}
