"""`DocxMixin`: docx documents and their blocks (part of `DocClient`).

Choices where Lark's docs are silent or leave room:
- `append_blocks` splits more than 50 children into requests of 50, in order; with an
  ``index`` each chunk goes right after the previous one. Each chunk carries its own
  ``client_token``: derived deterministically (uuid5) from the caller's token, so repeating
  the whole call repeats the same tokens, or a fresh uuid4 when none was given.
- `append_image` follows Lark's three steps: an empty image block, the media upload with
  ``parent_type=docx_image`` and ``parent_node=<image block id>`` (with
  ``extra={"drive_route_token": document_id}``), then ``replace_image`` on the block.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence

import msgspec

from lark_service.application.base_client import decode_data
from lark_service.application.clients.blocks import Inline, elements, empty_image
from lark_service.application.clients.drive_calls import CloudDocCalls
from lark_service.application.pagination import iterate_pages
from lark_service.domain.models.common import Page, check_page_size
from lark_service.domain.models.docs import (
    MAX_BLOCKS_PAGE_SIZE,
    MAX_CHILDREN_PER_REQUEST,
    Block,
    Document,
)
from lark_service.domain.models.docs_checks import check_image, check_new_blocks, require
from lark_service.domain.models.ids import lark_path

_DOCS = "/open-apis/docx/v1/documents"


class _DocumentReply(msgspec.Struct):
    document: Document


class _RawContent(msgspec.Struct):
    content: str = ""


class _Children(msgspec.Struct):
    children: list[Block] = []


class _BlockReply(msgspec.Struct):
    block: Block


def chunk_tokens(client_token: str | None, count: int) -> list[str]:
    """One client_token per chunk: the caller's own for a single chunk, else derived."""
    if client_token is None:
        return [str(uuid.uuid4()) for _ in range(count)]
    if count == 1:
        return [client_token]
    return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{client_token}/{i}")) for i in range(count)]


class DocxMixin(CloudDocCalls):
    """docx v1: documents, blocks, text updates and images."""

    async def create_document(
        self,
        *,
        title: str | None = None,
        folder_token: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Document:
        """Create an empty document (in the app's root folder unless ``folder_token``)."""
        body = {k: v for k, v in (("title", title), ("folder_token", folder_token)) if v}
        api = "docx.document.create"
        reply = await self._fetch(
            _DocumentReply, "POST", _DOCS, api, app_id, body, rate_family="docx"
        )
        return reply.document

    async def get_document(
        self, document_id: str, *, app_id: str | None = None, timeout: float | None = None
    ) -> Document:
        """A document's id, title and revision."""
        require(document_id, "document_id")
        path = lark_path(_DOCS + "/{document_id}", document_id=document_id)
        api = "docx.document.get"
        reply = await self._fetch(_DocumentReply, "GET", path, api, app_id, rate_family="docx")
        return reply.document

    async def get_raw_content(
        self, document_id: str, *, app_id: str | None = None, timeout: float | None = None
    ) -> str:
        """The document as plain text."""
        require(document_id, "document_id")
        path = lark_path(_DOCS + "/{document_id}/raw_content", document_id=document_id)
        api = "docx.document.raw_content"
        reply = await self._fetch(_RawContent, "GET", path, api, app_id, rate_family="docx")
        return reply.content

    async def list_blocks(
        self,
        document_id: str,
        *,
        page_size: int = MAX_BLOCKS_PAGE_SIZE,
        page_token: str | None = None,
        document_revision_id: int = -1,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Page[Block]:
        """One page of the document's blocks (the page block first)."""
        require(document_id, "document_id")
        check_page_size(page_size, MAX_BLOCKS_PAGE_SIZE)
        query = {
            "page_size": page_size,
            "page_token": page_token,
            "document_revision_id": document_revision_id,
        }
        path = lark_path(_DOCS + "/{document_id}/blocks", document_id=document_id)
        return await self._fetch(
            Page[Block], "GET", path, "docx.block.list", app_id, query=query, rate_family="docx"
        )

    def iter_blocks(
        self,
        document_id: str,
        *,
        page_size: int = MAX_BLOCKS_PAGE_SIZE,
        document_revision_id: int = -1,
        app_id: str | None = None,
    ) -> AsyncIterator[Block]:
        """Every block of the document, page after page."""

        async def fetch(token: str | None) -> Page[Block]:
            return await self.list_blocks(
                document_id,
                page_size=page_size,
                page_token=token,
                document_revision_id=document_revision_id,
                app_id=app_id,
            )

        return iterate_pages(fetch)

    async def append_blocks(
        self,
        document_id: str,
        blocks: Sequence[Block],
        *,
        parent_block_id: str | None = None,
        index: int | None = None,
        client_token: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> list[Block]:
        """Add ``blocks`` under ``parent_block_id`` (default: the page block, whose id is the
        document_id) at ``index`` (default: the end); any count, sent 50 per request."""
        check_new_blocks(document_id, blocks, index)
        parent = parent_block_id or document_id
        step = MAX_CHILDREN_PER_REQUEST
        chunks = [list(blocks[i : i + step]) for i in range(0, len(blocks), step)]
        created: list[Block] = []
        for chunk, token in zip(chunks, chunk_tokens(client_token, len(chunks)), strict=True):
            body: dict[str, object] = {"children": chunk}
            if index is not None and index >= 0:
                body["index"] = index + len(created)
            reply = await self._call(
                "POST",
                lark_path(
                    _DOCS + "/{document_id}/blocks/{parent}/children",
                    document_id=document_id,
                    parent=parent,
                ),
                api="docx.block.children.create",
                app_id=app_id,
                query={"document_revision_id": -1, "client_token": token},
                json=body,
                idempotent=True,  # the client_token makes a repeat harmless
                rate_family="docx",
            )
            created.extend(decode_data(reply.data, _Children, api="docx.block.children").children)
        return created

    async def update_block_text(
        self,
        document_id: str,
        block_id: str,
        content: str | Sequence[Inline],
        *,
        client_token: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Block:
        """Replace the text of a text-like block with a string or runs (``run(...)``)."""
        require(document_id, "document_id")
        require(block_id, "block_id")
        parts = (content,) if isinstance(content, str) else tuple(content)
        body = {"update_text_elements": {"elements": elements(parts)}}
        return await self._patch_block(document_id, block_id, body, client_token, app_id)

    async def append_image(
        self,
        document_id: str,
        image_bytes: bytes,
        *,
        file_name: str = "image.png",
        parent_block_id: str | None = None,
        index: int | None = None,
        width: int | None = None,
        height: int | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Block:
        """Add an image: create an empty image block, upload the media to it, attach it."""
        check_image(document_id, image_bytes)
        (placeholder,) = await self.append_blocks(
            document_id,
            [empty_image()],
            parent_block_id=parent_block_id,
            index=index,
            app_id=app_id,
        )
        token = await self._upload_all(
            "medias",
            image_bytes,
            file_name=file_name,
            parent_type="docx_image",
            parent_node=placeholder.block_id,
            extra=f'{{"drive_route_token":"{document_id}"}}',
            app_id=app_id,
        )
        replace: dict[str, object] = {"token": token}
        if width is not None:
            replace["width"] = width
        if height is not None:
            replace["height"] = height
        body = {"replace_image": replace}
        return await self._patch_block(document_id, placeholder.block_id, body, None, app_id)

    async def _patch_block(
        self,
        document_id: str,
        block_id: str,
        body: Mapping[str, object],
        client_token: str | None,
        app_id: str | None,
    ) -> Block:
        reply = await self._call(
            "PATCH",
            lark_path(
                _DOCS + "/{document_id}/blocks/{block_id}",
                document_id=document_id,
                block_id=block_id,
            ),
            api="docx.block.patch",
            app_id=app_id,
            query={"document_revision_id": -1, "client_token": client_token or str(uuid.uuid4())},
            json=body,
            idempotent=True,
            rate_family="docx",
        )
        return decode_data(reply.data, _BlockReply, api="docx.block.patch").block
