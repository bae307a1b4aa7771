"""Fake docx v1: documents, blocks, children creation, text and image updates.

A document is a drive `Node` of type ``docx`` (see drive.py for ownership, grants and the
``deny_scope`` switch) plus a block tree whose root, the page block, has the document_id as
its block_id. Lark's codes: 1770001 invalid param (400), 1770002 not found (404), 1770013
relation mismatch (image media not uploaded for that block, 400), 1770014 parent/children
relation mismatch (400), 1770025 operation and block do not match (400), 1770032 forbidden
(403). Checked like Lark: 1–50 children per request, a known block_type with its body
field, ``page_size`` ≤ 500, ``index`` within the parent's children, link URLs
percent-encoded. A repeated ``client_token`` on the same document returns the first reply.

Chosen where the docs are silent: raw_content is the title then one line per text-like
block; an empty image block answers ``image: {token:"", width:100, height:100, align:2}``;
blocks that cannot hold children here are code, divider and image.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lark_service.testing.fake_lark.drive_state import (
    add_node,
    check_scope,
    drive_state,
    find_node,
    require_access,
    root_folder,
)
from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest, TokenInfo

if TYPE_CHECKING:
    from lark_service.testing.fake_lark.server import FakeLark, HandlerResult

TEXT_FIELDS = {1: "page", 2: "text", 12: "bullet", 13: "ordered", 14: "code", 15: "quote"}
TEXT_FIELDS |= {3 + i: f"heading{i + 1}" for i in range(9)} | {17: "todo", 19: "callout"}
OTHER_FIELDS = {22: "divider", 27: "image", 31: "table"}
CHILDLESS = frozenset({14, 22, 27})
MAX_CHILDREN = 50
MAX_PAGE = 500


@dataclass
class Doc:
    document_id: str
    title: str
    revision_id: int = 1
    blocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    client_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)


def bad(msg: str) -> FakeLarkError:
    return FakeLarkError(400, 1770001, f"invalid param: {msg}")


def not_found() -> FakeLarkError:
    return FakeLarkError(404, 1770002, "not found")


def forbidden() -> FakeLarkError:
    return FakeLarkError(403, 1770032, "forbidden")


def docs_of(fake: FakeLark) -> dict[str, Doc]:
    docs = fake.state.setdefault("docx", {})
    if not isinstance(docs, dict):  # pragma: no cover - state is ours
        raise TypeError("docx state is corrupt")
    return docs


def ordered_blocks(doc: Doc) -> list[dict[str, Any]]:
    """The blocks in document order (depth-first from the page block)."""
    out: list[dict[str, Any]] = []
    stack = [doc.document_id]
    while stack:
        block = doc.blocks[stack.pop()]
        out.append(block)
        stack.extend(reversed(block["children"]))
    return out


def plain_text(body: dict[str, Any]) -> str:
    return "".join(e.get("text_run", {}).get("content", "") for e in body.get("elements", []))


def check_elements(elements: Any) -> None:
    if not isinstance(elements, list):
        raise bad("elements must be a list")
    for el in elements:
        run = el.get("text_run") if isinstance(el, dict) else None
        if not isinstance(run, dict) or not isinstance(run.get("content"), str):
            raise bad("each element needs text_run.content")
        url = (run.get("text_element_style") or {}).get("link", {}).get("url", "")
        if "://" in url:  # Lark wants the URL percent-encoded
            raise bad("link url must be url-encoded")


def check_child(child: Any) -> dict[str, Any]:
    if not isinstance(child, dict) or not isinstance(child.get("block_type"), int):
        raise bad("each child needs a block_type")
    block_type = child["block_type"]
    name = TEXT_FIELDS.get(block_type) or OTHER_FIELDS.get(block_type)
    if name is None or block_type == 1:
        raise bad(f"block_type {block_type} cannot be created here")
    body = child.get(name)
    if not isinstance(body, dict):
        raise bad(f"block_type {block_type} needs the field {name}")
    if name in TEXT_FIELDS.values():
        check_elements(body.get("elements", []))
    if block_type == 27:
        body = {"token": "", "width": 100, "height": 100, "align": 2}  # nosec B105 - an image token
    return {"block_type": block_type, name: body}


def register(fake: FakeLark) -> None:
    """Register the docx routes."""
    fake.on_reset(lambda: fake.state.pop("docx", None))
    base = "/open-apis/docx/v1/documents"

    def open_doc(req: FakeRequest, need: str) -> tuple[TokenInfo, Doc]:
        info = fake.require_token(req)
        check_scope(fake, info, "docx")
        doc = docs_of(fake).get(req.path_params["document_id"])
        if doc is None:
            raise not_found()
        node = find_node(fake, doc.document_id, not_found())
        require_access(fake, info, node, need, forbidden())
        return info, doc

    def view(doc: Doc) -> dict[str, Any]:
        return {"document_id": doc.document_id, "revision_id": doc.revision_id, "title": doc.title}

    @fake.route("POST", base)
    async def create(req: FakeRequest) -> HandlerResult:
        info = fake.require_token(req)
        check_scope(fake, info, "docx")
        body = req.json() or {}
        title = body.get("title") or ""
        folder_token = body.get("folder_token") or root_folder(fake, info.app_id)
        folder = drive_state(fake).nodes.get(folder_token)
        if folder is None or folder.type != "folder":
            raise bad("folder_token")
        require_access(fake, info, folder, "edit", forbidden())
        doc_id = "doxcn" + secrets.token_hex(11)
        add_node(
            fake, token=doc_id, type="docx", name=title, parent=folder_token, app_id=info.app_id
        )
        doc = Doc(doc_id, title)
        page = {"elements": [{"text_run": {"content": title}}], "style": {"align": 1}}
        doc.blocks[doc_id] = {
            "block_id": doc_id,
            "parent_id": "",
            "children": [],
            "block_type": 1,
            "page": page,
        }
        docs_of(fake)[doc_id] = doc
        return {"document": view(doc)}

    @fake.route("GET", base + "/{document_id}")
    async def get(req: FakeRequest) -> HandlerResult:
        return {"document": view(open_doc(req, "view")[1])}

    @fake.route("GET", base + "/{document_id}/raw_content")
    async def raw_content(req: FakeRequest) -> HandlerResult:
        doc = open_doc(req, "view")[1]
        lines = []
        for block in ordered_blocks(doc):
            name = TEXT_FIELDS.get(block["block_type"])
            if name is not None:
                lines.append(plain_text(block[name]) + "\n")
        return {"content": "".join(lines)}

    @fake.route("GET", base + "/{document_id}/blocks")
    async def list_blocks(req: FakeRequest) -> HandlerResult:
        doc = open_doc(req, "view")[1]
        try:
            size = int(req.query.get("page_size") or MAX_PAGE)
            start = int((req.query.get("page_token") or "pt_0").removeprefix("pt_"))
            revision = int(req.query.get("document_revision_id") or -1)
        except ValueError:
            raise bad("page_size, page_token or document_revision_id") from None
        if not 1 <= size <= MAX_PAGE or start < 0 or revision > doc.revision_id:
            raise bad("page_size, page_token or document_revision_id")
        blocks = ordered_blocks(doc)
        end = start + size
        more = end < len(blocks)
        return {
            "items": blocks[start:end],
            "has_more": more,
            "page_token": f"pt_{end}" if more else "",
        }

    @fake.route("POST", base + "/{document_id}/blocks/{block_id}/children")
    async def create_children(req: FakeRequest) -> HandlerResult:
        _, doc = open_doc(req, "edit")
        client_token = req.query.get("client_token") or ""
        if client_token and client_token in doc.client_tokens:
            return doc.client_tokens[client_token]
        parent = doc.blocks.get(req.path_params["block_id"])
        if parent is None:
            raise not_found()
        body = req.json()
        children = body.get("children") if isinstance(body, dict) else None
        if not isinstance(children, list) or not 1 <= len(children) <= MAX_CHILDREN:
            raise bad(f"children must hold 1-{MAX_CHILDREN} blocks")
        if parent["block_type"] in CHILDLESS:
            raise FakeLarkError(400, 1770014, "parent children relation mismatch")
        index = body.get("index", -1)
        siblings: list[str] = parent["children"]
        if not isinstance(index, int) or not -1 <= index <= len(siblings):
            raise bad("index")
        created = []
        for child in children:
            block = check_child(child)
            block.update(
                block_id="doxcn" + secrets.token_hex(11), parent_id=parent["block_id"], children=[]
            )
            created.append(block)
        for block in created:
            doc.blocks[block["block_id"]] = block
        at = len(siblings) if index == -1 else index
        siblings[at:at] = [b["block_id"] for b in created]
        doc.revision_id += 1
        reply = {
            "children": created,
            "document_revision_id": doc.revision_id,
            "client_token": client_token,
        }
        if client_token:
            doc.client_tokens[client_token] = reply
        return reply

    @fake.route("PATCH", base + "/{document_id}/blocks/{block_id}")
    async def patch(req: FakeRequest) -> HandlerResult:
        _, doc = open_doc(req, "edit")
        block = doc.blocks.get(req.path_params["block_id"])
        if block is None:
            raise not_found()
        body = req.json()
        if not isinstance(body, dict):
            raise bad("body")
        mismatch = FakeLarkError(400, 1770025, "operation and block not match")
        if "update_text_elements" in body:
            name = TEXT_FIELDS.get(block["block_type"])
            if name is None or block["block_type"] == 1:
                raise mismatch
            elements = (body["update_text_elements"] or {}).get("elements")
            check_elements(elements)
            block[name] = {**block[name], "elements": elements}
        elif "replace_image" in body:
            if block["block_type"] != 27:
                raise mismatch
            op = body["replace_image"] or {}
            media = drive_state(fake).medias.get(op.get("token", ""))
            if media is None or (media["parent_type"], media["parent_node"]) != (
                "docx_image",
                block["block_id"],
            ):
                raise FakeLarkError(400, 1770013, "relation mismatch")
            image = block["image"]
            image["token"] = op["token"]
            image.update({k: op[k] for k in ("width", "height", "align") if k in op})
        else:
            raise bad("no supported update operation")
        doc.revision_id += 1
        return {
            "block": block,
            "document_revision_id": doc.revision_id,
            "client_token": req.query.get("client_token") or "",
        }
