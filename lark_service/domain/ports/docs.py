"""The cloud-docs surface of `DocClient` (docx, drive, permissions, Sheets values) as a
Protocol, so embedders can depend on it (in unit tests: a `DocClient` on
``lark_service.testing.fake_pool``).
Bitable has its own port."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from lark_service.domain.models.common import Page
from lark_service.domain.models.docs import (
    AppendResult,
    Block,
    Document,
    DriveFile,
    Folder,
    Member,
    TextElement,
    UpdatedRange,
    ValueRange,
)

Rows = Sequence[Sequence[Any]]


class DocsPort(Protocol):
    # docx
    async def create_document(
        self,
        *,
        title: str | None = None,
        folder_token: str | None = None,
        app_id: str | None = None,
    ) -> Document: ...

    async def get_document(self, document_id: str, *, app_id: str | None = None) -> Document: ...

    async def get_raw_content(self, document_id: str, *, app_id: str | None = None) -> str: ...

    async def list_blocks(
        self,
        document_id: str,
        *,
        page_size: int = 500,
        page_token: str | None = None,
        document_revision_id: int = -1,
        app_id: str | None = None,
    ) -> Page[Block]: ...

    def iter_blocks(
        self,
        document_id: str,
        *,
        page_size: int = 500,
        document_revision_id: int = -1,
        app_id: str | None = None,
    ) -> AsyncIterator[Block]: ...

    async def append_blocks(
        self,
        document_id: str,
        blocks: Sequence[Block],
        *,
        parent_block_id: str | None = None,
        index: int | None = None,
        client_token: str | None = None,
        app_id: str | None = None,
    ) -> list[Block]: ...

    async def update_block_text(
        self,
        document_id: str,
        block_id: str,
        content: str | Sequence[str | TextElement],
        *,
        client_token: str | None = None,
        app_id: str | None = None,
    ) -> Block: ...

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
    ) -> Block: ...

    # drive
    async def list_files(
        self,
        folder_token: str | None = None,
        *,
        page_size: int = 50,
        page_token: str | None = None,
        order_by: str = "EditedTime",
        direction: str = "DESC",
        app_id: str | None = None,
    ) -> Page[DriveFile]: ...

    def iter_files(
        self,
        folder_token: str | None = None,
        *,
        page_size: int = 200,
        order_by: str = "EditedTime",
        direction: str = "DESC",
        app_id: str | None = None,
    ) -> AsyncIterator[DriveFile]: ...

    async def create_folder(
        self, name: str, *, folder_token: str, app_id: str | None = None
    ) -> Folder: ...

    async def upload_file(
        self,
        data: bytes | str | os.PathLike[str],
        *,
        file_name: str,
        parent_node: str,
        parent_type: str = "explorer",
        chunked: bool | None = None,
        app_id: str | None = None,
    ) -> str: ...

    async def download_file(self, file_token: str, *, app_id: str | None = None) -> bytes: ...

    async def delete_file(
        self, file_token: str, *, doc_type: str, app_id: str | None = None
    ) -> str: ...

    # permissions
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
    ) -> Member: ...

    async def list_permission_members(
        self, token: str, *, doc_type: str, app_id: str | None = None
    ) -> list[Member]: ...

    async def revoke_permission(
        self,
        token: str,
        *,
        doc_type: str,
        member_type: str,
        member_id: str,
        app_id: str | None = None,
    ) -> None: ...

    # sheets
    async def read_range(
        self,
        spreadsheet_token: str,
        range_: str,
        *,
        value_render_option: str | None = None,
        app_id: str | None = None,
    ) -> ValueRange: ...

    async def write_range(
        self, spreadsheet_token: str, range_: str, values: Rows, *, app_id: str | None = None
    ) -> UpdatedRange: ...

    async def append_rows(
        self,
        spreadsheet_token: str,
        range_: str,
        values: Rows,
        *,
        insert_data_option: str = "OVERWRITE",
        app_id: str | None = None,
    ) -> AppendResult: ...

    async def batch_read_ranges(
        self,
        spreadsheet_token: str,
        ranges: Sequence[str],
        *,
        value_render_option: str | None = None,
        app_id: str | None = None,
    ) -> list[ValueRange]: ...

    async def batch_write_ranges(
        self,
        spreadsheet_token: str,
        value_ranges: Mapping[str, Rows] | Sequence[tuple[str, Rows]],
        *,
        app_id: str | None = None,
    ) -> list[UpdatedRange]: ...
