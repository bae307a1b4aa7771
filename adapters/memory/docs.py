"""`InMemoryDocs`: a dict-backed `DocsPort` (docx, drive, permissions, Sheets values) for
embedders' unit tests. One tenant, no scopes, no rate limits; ``app_id`` is accepted and
ignored. Bad input raises `ConfigError` like `DocClient`; missing resources raise
`NotFoundError` with Lark's codes (docx 1770002, drive 1061003, sheets 91402/90215).
Spreadsheets are made with `add_spreadsheet`. Values are stored as given; reads return the
rectangle of the range with ``None`` in empty cells.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import anyio

from application.clients.blocks import elements, empty_image
from domain.errors import ConfigError, NotFoundError
from domain.models.common import Page
from domain.models.docs import (
    DELETE_FILE_TYPES,
    FILE_DIRECTIONS,
    FILE_ORDER_BY,
    INSERT_DATA_OPTIONS,
    MAX_BLOCKS_PAGE_SIZE,
    MAX_FILES_PAGE_SIZE,
    MEMBER_TYPES,
    PERMISSION_DOC_TYPES,
    PERMS,
    TEXT_FIELDS,
    AppendResult,
    Block,
    Document,
    DriveFile,
    Folder,
    Image,
    Member,
    TextBody,
    TextElement,
    UpdatedRange,
    ValueRange,
    check_values,
    column_letters,
    parse_range,
)

Rows = Sequence[Sequence[Any]]
ROOT = "fldmemoryroot"


def _one_of(value: str, allowed: frozenset[str], name: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {sorted(allowed)}, not {value!r}")


def _a1(sheet: str, c1: int, r1: int, c2: int, r2: int) -> str:
    return f"{sheet}!{column_letters(c1)}{r1}:{column_letters(c2)}{r2}"


def _page(items: list[Any], size: int, token: str | None) -> tuple[list[Any], str | None]:
    start = int(token or 0)
    return items[start : start + size], (str(start + size) if start + size < len(items) else None)


class InMemoryDocs:
    """Cloud docs kept in dicts; see the module docstring for what is modelled."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.files: dict[str, DriveFile] = {ROOT: DriveFile(token=ROOT, type="folder", name="root")}
        self.content: dict[str, bytes] = {}
        self.documents: dict[str, Document] = {}
        self.blocks: dict[str, dict[str, Block]] = {}  # document_id -> block_id -> block
        self.members: dict[str, dict[tuple[str, str], Member]] = {}
        self.sheets: dict[str, dict[str, dict[tuple[int, int], Any]]] = {}
        self._tokens: dict[str, list[Block]] = {}  # client_token -> created children

    def _new(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def _add_file(self, token: str, type_: str, name: str, parent: str) -> DriveFile:
        if self.files.get(parent, DriveFile(token="")).type != "folder":  # nosec B106
            raise NotFoundError("folder not found", code=1061003)
        now = str(int(time.time()))
        entry = DriveFile(
            token=token,
            name=name,
            type=type_,
            parent_token=parent,
            created_time=now,
            modified_time=now,
        )
        self.files[token] = entry
        return entry

    # docx --------------------------------------------------------------------------------
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
        if not 1 <= page_size <= MAX_BLOCKS_PAGE_SIZE:
            raise ConfigError(f"page_size must be 1–{MAX_BLOCKS_PAGE_SIZE}")
        items, token = _page(self._ordered(document_id), page_size, page_token)
        return Page(items=items, page_token=token, has_more=token is not None)

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
        doc = self._doc(document_id)
        if not blocks:
            raise ConfigError("blocks is empty")
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
        if not image_bytes:
            raise ConfigError("image_bytes is empty")
        (block,) = await self.append_blocks(
            document_id, [empty_image()], parent_block_id=parent_block_id, index=index
        )
        token = self._new("boxmedia")
        self.content[token] = image_bytes
        block.image = Image(token=token, width=width or 100, height=height or 100, align=2)
        return block

    # drive -------------------------------------------------------------------------------
    async def list_files(
        self,
        folder_token: str | None = None,
        *,
        page_size: int = 50,
        page_token: str | None = None,
        order_by: str = "EditedTime",
        direction: str = "DESC",
        app_id: str | None = None,
    ) -> Page[DriveFile]:
        """One page of a folder's entries."""
        if not 1 <= page_size <= MAX_FILES_PAGE_SIZE:
            raise ConfigError(f"page_size must be 1–{MAX_FILES_PAGE_SIZE}")
        _one_of(order_by, FILE_ORDER_BY, "order_by")
        _one_of(direction, FILE_DIRECTIONS, "direction")
        folder = folder_token or ROOT
        if folder not in self.files:
            raise NotFoundError("folder not found", code=1061003)
        items = [f for f in self.files.values() if f.parent_token == folder]
        key = "modified_time" if order_by == "EditedTime" else "created_time"
        items.sort(key=lambda f: int(getattr(f, key) or 0), reverse=direction == "DESC")
        page, token = _page(items, page_size, page_token)
        return Page(items=page, page_token=token, has_more=token is not None)

    async def iter_files(
        self,
        folder_token: str | None = None,
        *,
        page_size: int = 200,
        order_by: str = "EditedTime",
        direction: str = "DESC",
        app_id: str | None = None,
    ) -> AsyncIterator[DriveFile]:
        """Every entry of a folder."""
        page = await self.list_files(
            folder_token, page_size=MAX_FILES_PAGE_SIZE, order_by=order_by, direction=direction
        )
        while True:
            for item in page.items:
                yield item
            if not page.has_more:
                return
            page = await self.list_files(
                folder_token,
                page_size=MAX_FILES_PAGE_SIZE,
                page_token=page.page_token,
                order_by=order_by,
                direction=direction,
            )

    async def create_folder(
        self, name: str, *, folder_token: str, app_id: str | None = None
    ) -> Folder:
        """Create a folder."""
        if not name or not folder_token:
            raise ConfigError("name and folder_token are required")
        entry = self._add_file(self._new("fldmem"), "folder", name, folder_token)
        return Folder(token=entry.token, url=f"memory://folder/{entry.token}")

    async def upload_file(
        self,
        data: bytes | str | os.PathLike[str],
        *,
        file_name: str,
        parent_node: str,
        parent_type: str = "explorer",
        chunked: bool | None = None,
        app_id: str | None = None,
    ) -> str:
        """Store bytes (or a file's content) as a drive file; returns its token."""
        if not file_name or not parent_node:
            raise ConfigError("file_name and parent_node are required")
        _one_of(parent_type, frozenset({"explorer"}), "parent_type")
        if not isinstance(data, bytes):
            data = await anyio.Path(data).read_bytes()
        entry = self._add_file(self._new("boxmem"), "file", file_name, parent_node)
        self.content[entry.token] = data
        return entry.token

    async def download_file(self, file_token: str, *, app_id: str | None = None) -> bytes:
        """A file's bytes."""
        if file_token not in self.content or file_token not in self.files:
            raise NotFoundError("file not found", code=1061003)
        return self.content[file_token]

    async def delete_file(
        self, file_token: str, *, doc_type: str, app_id: str | None = None
    ) -> str:
        """Delete a file or folder (with its contents)."""
        _one_of(doc_type, DELETE_FILE_TYPES, "doc_type")
        entry = self.files.get(file_token)
        if entry is None:
            raise NotFoundError("file not found", code=1061003)
        if entry.type != doc_type:
            raise ConfigError("doc_type does not match the file")
        doomed = [file_token]
        for token in doomed:
            doomed += [f.token for f in self.files.values() if f.parent_token == token]
        for token in doomed:
            self.files.pop(token, None)
            self.blocks.pop(token, None)
            self.sheets.pop(token, None)
        return self._new("task") if doc_type == "folder" else ""

    # permissions -------------------------------------------------------------------------
    def _members(self, token: str, doc_type: str) -> dict[tuple[str, str], Member]:
        _one_of(doc_type, PERMISSION_DOC_TYPES, "doc_type")
        entry = self.files.get(token)
        if entry is None or entry.type != doc_type:
            raise NotFoundError("resource not found", code=1063005)
        return self.members.setdefault(token, {})

    async def grant_permission(
        self,
        token: str,
        *,
        doc_type: str,
        member_type: str,
        member_id: str,
        perm: str = "view",
        need_notification: bool = False,
        app_id: str | None = None,
    ) -> Member:
        """Add or update a collaborator."""
        _one_of(member_type, MEMBER_TYPES, "member_type")
        _one_of(perm, PERMS, "perm")
        if not member_id:
            raise ConfigError("member_id is empty")
        member = Member(member_type=member_type, member_id=member_id, perm=perm)
        self._members(token, doc_type)[(member_type, member_id)] = member
        return member

    async def list_permission_members(
        self, token: str, *, doc_type: str, app_id: str | None = None
    ) -> list[Member]:
        """The collaborators."""
        return list(self._members(token, doc_type).values())

    async def revoke_permission(
        self,
        token: str,
        *,
        doc_type: str,
        member_type: str,
        member_id: str,
        app_id: str | None = None,
    ) -> None:
        """Remove a collaborator."""
        if self._members(token, doc_type).pop((member_type, member_id), None) is None:
            raise NotFoundError("member not found", code=1063005)

    # sheets ------------------------------------------------------------------------------
    def add_spreadsheet(
        self, *, title: str = "sheet", sheet_ids: Sequence[str] = ("sheet1",)
    ) -> str:
        """Create a spreadsheet in the root folder; returns its token."""
        token = self._new("shtcnmem")
        self._add_file(token, "sheet", title, ROOT)
        self.sheets[token] = {sid: {} for sid in sheet_ids}
        return token

    def _cells(self, token: str, range_: str) -> tuple[dict[tuple[int, int], Any], list[int]]:
        rng = parse_range(range_)
        book = self.sheets.get(token)
        if book is None:
            raise NotFoundError("spreadsheet not found", code=91402)
        if rng.sheet_id not in book:
            raise NotFoundError(f"sheet {rng.sheet_id!r} not found", code=90215)
        return book[rng.sheet_id], [rng.first_col, rng.first_row, rng.last_col, rng.last_row]

    async def read_range(
        self,
        spreadsheet_token: str,
        range_: str,
        *,
        value_render_option: str | None = None,
        app_id: str | None = None,
    ) -> ValueRange:
        """The values of a range (``ToString`` renders every value as a string)."""
        cells, (c1, r1, c2, r2) = self._cells(spreadsheet_token, range_)
        c1, r1 = c1 or 1, r1 or 1
        c2 = c2 or max((c for _, c in cells), default=c1)
        r2 = r2 or max((r for r, _ in cells), default=r1)
        values = [[cells.get((r, c)) for c in range(c1, c2 + 1)] for r in range(r1, r2 + 1)]
        if value_render_option == "ToString":
            values = [[v if v is None else str(v) for v in row] for row in values]
        return ValueRange(range=_a1(range_.split("!", 1)[0], c1, r1, c2, r2), values=values)

    async def write_range(
        self, spreadsheet_token: str, range_: str, values: Rows, *, app_id: str | None = None
    ) -> UpdatedRange:
        """Overwrite a range."""
        rows = [list(r) for r in values]
        rng = check_values(range_, rows)
        cells, _ = self._cells(spreadsheet_token, range_)
        c1, r1, width = rng.first_col or 1, rng.first_row or 1, max(map(len, rows))
        for dr, row in enumerate(rows):
            for dc in range(width):
                cells[(r1 + dr, c1 + dc)] = row[dc] if dc < len(row) else None
        return UpdatedRange(
            spreadsheetToken=spreadsheet_token,
            updatedRange=_a1(rng.sheet_id, c1, r1, c1 + width - 1, r1 + len(rows) - 1),
            updatedRows=len(rows),
            updatedColumns=width,
            updatedCells=len(rows) * width,
        )

    async def append_rows(
        self,
        spreadsheet_token: str,
        range_: str,
        values: Rows,
        *,
        insert_data_option: str = "OVERWRITE",
        app_id: str | None = None,
    ) -> AppendResult:
        """Write rows after the last non-empty row of the range's columns."""
        _one_of(insert_data_option, INSERT_DATA_OPTIONS, "insert_data_option")
        rows = [list(r) for r in values]
        rng = check_values(range_, rows)
        cells, _ = self._cells(spreadsheet_token, range_)
        c1, r1, width = rng.first_col or 1, rng.first_row or 1, max(map(len, rows))
        cols = range(c1, c1 + width)
        used = [r for (r, c), v in cells.items() if c in cols and r >= r1 and v is not None]
        start = max(used, default=r1 - 1) + 1
        if insert_data_option == "INSERT_ROWS":
            moved = {((r + len(rows) if r >= start else r), c): v for (r, c), v in cells.items()}
            cells.clear()
            cells.update(moved)
        target = _a1(rng.sheet_id, c1, start, c1 + width - 1, start + len(rows) - 1)
        updates = await self.write_range(spreadsheet_token, target, rows)
        return AppendResult(spreadsheetToken=spreadsheet_token, updates=updates)

    async def batch_read_ranges(
        self,
        spreadsheet_token: str,
        ranges: Sequence[str],
        *,
        value_render_option: str | None = None,
        app_id: str | None = None,
    ) -> list[ValueRange]:
        """Several ranges in order."""
        if not ranges or isinstance(ranges, str):
            raise ConfigError("ranges must be a non-empty list")
        return [
            await self.read_range(spreadsheet_token, r, value_render_option=value_render_option)
            for r in ranges
        ]

    async def batch_write_ranges(
        self,
        spreadsheet_token: str,
        value_ranges: Mapping[str, Rows] | Sequence[tuple[str, Rows]],
        *,
        app_id: str | None = None,
    ) -> list[UpdatedRange]:
        """Several writes; all are checked before any is made."""
        pairs = (
            list(value_ranges.items()) if isinstance(value_ranges, Mapping) else list(value_ranges)
        )
        if not pairs:
            raise ConfigError("value_ranges is empty")
        for range_, values in pairs:
            check_values(range_, [list(r) for r in values])
            self._cells(spreadsheet_token, range_)
        return [await self.write_range(spreadsheet_token, r, v) for r, v in pairs]
