"""The shared cloud-docs state of the fake: drive `Node`s, ownership and grants, scope
switches, uploads in progress, and the checks and errors the drive, docx and sheets modules
share. See `lark_service.testing.fake_lark.drive` for the behaviour and Lark's codes.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lark_service.testing.fake_lark.models import FakeLarkError, FormPart, TokenInfo

if TYPE_CHECKING:
    from lark_service.testing.fake_lark.server import FakeLark

MAX_UPLOAD_ALL = 20 * 1024 * 1024
PERM_RANK = {"view": 1, "edit": 2, "full_access": 3}
SCOPES = {"docx": "docx:document", "drive": "drive:drive", "sheets": "sheets:spreadsheet"}


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


def params_error(msg: str) -> FakeLarkError:
    return FakeLarkError(400, 1061002, f"params error. {msg}")


def not_found() -> FakeLarkError:
    return FakeLarkError(404, 1061003, "not found.")


def forbidden() -> FakeLarkError:
    return FakeLarkError(403, 1061004, "forbidden.")


def drive_node(fake: FakeLark, token: str) -> Node:
    if token in drive_state(fake).deleted:
        raise FakeLarkError(404, 1061007, "file has been delete.")
    return find_node(fake, token, not_found())


def int_param(value: str | None, name: str) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise params_error(f"{name} must be an integer") from None


def check_file(parts: dict[str, FormPart], limit: int | None) -> bytes:
    """The ``file`` part, checked against ``size``, ``checksum`` and ``limit``."""
    file = parts.get("file")
    if file is None:  # lark-oapi sends the part without a filename: Lark accepts that
        raise params_error("file is required")
    size = int_param(parts["size"].text if "size" in parts else None, "size")
    if limit is not None and size > limit:
        raise FakeLarkError(400, 1061043, "file size beyond limit.")
    if size != len(file.data):
        raise FakeLarkError(400, 1062009, "the actual size is inconsistent with the size")
    checksum = parts.get("checksum")
    if checksum is not None and checksum.text and checksum.text != str(zlib.adler32(file.data)):
        raise FakeLarkError(400, 1062008, "checksum param Invalid.")
    return file.data
