"""`InMemoryDocs`: a dict-backed `DocsPort` (docx, drive, permissions, Sheets values) for
embedders' unit tests. One tenant, no scopes, no rate limits; ``app_id`` is accepted and
ignored. Bad input raises `ConfigError` like `DocClient` (both run the same checks);
missing resources raise `NotFoundError` with Lark's codes (docx 1770002, drive 1061003,
sheets 91402/90215). Spreadsheets are made with `add_spreadsheet`. Values are stored as
given; reads return the rectangle of the range with ``None`` in empty cells.

The docx part is here; drive and permissions are in `docs_drive`, Sheets in `docs_sheets`,
the shared dicts in `docs_store`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from lark_service.adapters.memory.docs_drive import InMemoryDrive
from lark_service.adapters.memory.docs_sheets import InMemorySheets
from lark_service.adapters.memory.docs_store import ROOT
from lark_service.adapters.memory.paging import page_of
from lark_service.application.clients.blocks import elements, empty_image
from lark_service.domain.errors import ConfigError, NotFoundError
from lark_service.domain.models.common import Page, check_page_size
from lark_service.domain.models.docs import (
    MAX_BLOCKS_PAGE_SIZE,
    TEXT_FIELDS,
    Block,
    Document,
    Image,
    TextBody,
    TextElement,
)
from lark_service.domain.models.docs_checks import check_image, check_new_blocks
from lark_service.domain.models.docs_sheets import Rows

__all__ = ["ROOT", "InMemoryDocs", "Rows"]


class InMemoryDocs(InMemoryDrive, InMemorySheets):
    """Cloud docs kept in dicts; see the module docstring for what is modelled."""

    def _doc(self, document_id: str) -> dict[str, Block]:
        if document_id not in self.blocks:
            raise NotFoundError(f"document {document_id!r} not found", code=1770002)
        return self.blocks[document_id]

    async def create_document(
        self,
        *,
        title: str | None = None,
        folder_token: str | None = None,
        app_id: str | None = None,
    ) -> Document:
        """Create an empty document."""
        doc_id = self._new("doxcnmem")
        self._add_file(doc_id, "docx", title or "", folder_token or ROOT)
        self.documents[doc_id] = Document(document_id=doc_id, revision_id=1, title=title or "")
        page = Block(block_type=1, block_id=doc_id, page=TextBody(elements=elements([title or ""])))
        self.blocks[doc_id] = {doc_id: page}
        return self.documents[doc_id]

    async def get_document(self, document_id: str, *, app_id: str | None = None) -> Document:
        """A document's id, title and revision."""
        self._doc(document_id)
        return self.documents[document_id]

    def _ordered(self, document_id: str) -> list[Block]:
        blocks, out, stack = self._doc(document_id), [], [document_id]
        while stack:
            block = blocks[stack.pop()]
            out.append(block)
            stack.extend(reversed(block.children))
        return out

    async def get_raw_content(self, document_id: str, *, app_id: str | None = None) -> str:
        """The title and each text-like block, one per line."""
        bodies = (b.body for b in self._ordered(document_id))
        return "".join(body.plain_text + "\n" for body in bodies if body is not None)

    async def list_blocks(
        self,
        document_id: str,
        *,
        page_size: int = 500,
        page_token: str | None = None,
        document_revision_id: int = -1,
        app_id: str | None = None,
    ) -> Page[Block]:
        """One page of the document's blocks in document order."""
        check_page_size(page_size, MAX_BLOCKS_PAGE_SIZE)
        return page_of(self._ordered(document_id), page_size, page_token)

    async def iter_blocks(
        self,
        document_id: str,
        *,
        page_size: int = 500,
        document_revision_id: int = -1,
        app_id: str | None = None,
    ) -> AsyncIterator[Block]:
        """Every block of the document."""
        for block in self._ordered(document_id):
            yield block

    async def append_blocks(
        self,
        document_id: str,
        blocks: Sequence[Block],
        *,
        parent_block_id: str | None = None,
        index: int | None = None,
        client_token: str | None = None,
        app_id: str | None = None,
    ) -> list[Block]:
        """Add blocks under a parent (default: the page block); a repeated client_token
        returns the first result."""
        check_new_blocks(document_id, blocks, index)
        doc = self._doc(document_id)
        if client_token is not None and client_token in self._tokens:
            return self._tokens[client_token]
        parent = doc.get(parent_block_id or document_id)
        if parent is None:
            raise NotFoundError("parent block not found", code=1770002)
        created = []
        for block in blocks:
            new = Block(**{f: getattr(block, f) for f in block.__struct_fields__})
            new.block_id, new.parent_id, new.children = self._new("doxcnblk"), parent.block_id, []
            if new.block_type == 27:
                new.image = Image(token="", width=100, height=100, align=2)  # nosec B106
            doc[new.block_id] = new
            created.append(new)
        at = len(parent.children) if index is None or index == -1 else index
        parent.children[at:at] = [b.block_id for b in created]
        self.documents[document_id].revision_id += 1
        if client_token is not None:
            self._tokens[client_token] = created
        return created

    async def update_block_text(
        self,
        document_id: str,
        block_id: str,
        content: str | Sequence[str | TextElement],
        *,
        client_token: str | None = None,
        app_id: str | None = None,
    ) -> Block:
        """Replace the text of a text-like block."""
        block = self._doc(document_id).get(block_id)
        if block is None:
            raise NotFoundError("block not found", code=1770002)
        field = TEXT_FIELDS.get(block.block_type)
        if field is None or block.block_type == 1:
            raise ConfigError("this block holds no text")
        parts = (content,) if isinstance(content, str) else tuple(content)
        old = getattr(block, field)
        setattr(block, field, TextBody(elements=elements(parts), style=old and old.style))
        return block

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
    ) -> Block:
        """Add an image block holding ``image_bytes``."""
        check_image(document_id, image_bytes)
        (block,) = await self.append_blocks(
            document_id, [empty_image()], parent_block_id=parent_block_id, index=index
        )
        token = self._new("boxmedia")
        self.content[token] = image_bytes
        block.image = Image(token=token, width=width or 100, height=height or 100, align=2)
        return block
