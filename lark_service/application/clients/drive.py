"""`DriveMixin`: drive files, folders, uploads, downloads and (from `DrivePermissionsMixin`)
permissions (part of `DocClient`).

Uploads: up to 20 MB go in one ``files/upload_all``; bigger ones (or any with
``chunked=True``) go through ``upload_prepare`` → ``upload_part`` × ``block_num`` (parts of
the ``block_size`` Lark returns, each with its adler32 checksum) → ``upload_finish``.
Checksums are sent as decimal strings (Lark's docs give the field as a string of digits).
Parts are sent one after another: Lark's docs say upload_part must not be called
concurrently.

Chosen where Lark's docs are silent: `delete_file` returns the ``task_id`` Lark gives for
folders (deleted asynchronously) and ``""`` otherwise.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import AsyncIterator

import anyio
import msgspec

from lark_service.application.clients.drive_calls import DRIVE_V1, FileToken, file_field
from lark_service.application.clients.drive_permissions import DrivePermissionsMixin
from lark_service.application.pagination import iterate_pages
from lark_service.domain.errors import ConfigError
from lark_service.domain.models.common import Page
from lark_service.domain.models.docs import (
    MAX_FILES_PAGE_SIZE,
    UPLOAD_ALL_MAX_BYTES,
    DriveFile,
    Folder,
    UploadPlan,
)
from lark_service.domain.models.docs_checks import (
    check_delete,
    check_file_listing,
    check_upload,
    require,
)
from lark_service.domain.models.ids import lark_path
from lark_service.domain.wire import FormField

_FILES = f"{DRIVE_V1}/files"


class _FileList(msgspec.Struct):
    files: list[DriveFile] = []
    has_more: bool = False
    next_page_token: str = ""


class _TaskId(msgspec.Struct):
    task_id: str = ""


class DriveMixin(DrivePermissionsMixin):
    """drive v1 files and folders, and the permission members of any cloud doc."""

    async def list_files(
        self,
        folder_token: str | None = None,
        *,
        page_size: int = 50,
        page_token: str | None = None,
        order_by: str = "EditedTime",
        direction: str = "DESC",
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Page[DriveFile]:
        """One page of a folder's entries (the app's root folder when ``folder_token`` is None)."""
        check_file_listing(page_size, order_by, direction)
        query = {
            "folder_token": folder_token,
            "page_size": page_size,
            "page_token": page_token,
            "order_by": order_by,
            "direction": direction,
        }
        data = await self._fetch(
            _FileList, "GET", _FILES, "drive.file.list", app_id, query=query, rate_family="drive"
        )
        # Lark names the continuation token next_page_token here; Page calls it page_token.
        return Page(
            items=data.files, has_more=data.has_more, page_token=data.next_page_token or None
        )

    def iter_files(
        self,
        folder_token: str | None = None,
        *,
        page_size: int = MAX_FILES_PAGE_SIZE,
        order_by: str = "EditedTime",
        direction: str = "DESC",
        app_id: str | None = None,
    ) -> AsyncIterator[DriveFile]:
        """Every entry of a folder, page after page."""

        async def fetch(token: str | None) -> Page[DriveFile]:
            return await self.list_files(
                folder_token,
                page_size=page_size,
                page_token=token,
                order_by=order_by,
                direction=direction,
                app_id=app_id,
            )

        return iterate_pages(fetch)

    async def create_folder(
        self,
        name: str,
        *,
        folder_token: str,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Folder:
        """Create a folder ``name`` inside the folder ``folder_token``."""
        require(name, "name")
        require(folder_token, "folder_token")
        body = {"name": name, "folder_token": folder_token}
        path = f"{_FILES}/create_folder"
        api = "drive.file.create_folder"
        return await self._fetch(Folder, "POST", path, api, app_id, body, rate_family="drive")

    async def upload_file(
        self,
        data: bytes | str | os.PathLike[str],
        *,
        file_name: str,
        parent_node: str,
        parent_type: str = "explorer",
        chunked: bool | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Upload bytes (or the file at a path) into a folder; returns the file_token.

        ``chunked=None`` picks the multipart upload above 20 MB; True or False forces it.
        """
        check_upload(file_name, parent_node, parent_type)
        if not isinstance(data, bytes):
            data = await anyio.Path(data).read_bytes()
        if chunked is None:
            chunked = len(data) > UPLOAD_ALL_MAX_BYTES
        elif not chunked and len(data) > UPLOAD_ALL_MAX_BYTES:
            raise ConfigError(f"upload_all takes at most {UPLOAD_ALL_MAX_BYTES} bytes")
        if not chunked:
            return await self._upload_all(
                "files",
                data,
                file_name=file_name,
                parent_type=parent_type,
                parent_node=parent_node,
                app_id=app_id,
            )
        return await self._upload_chunked(data, file_name, parent_node, parent_type, app_id)

    async def _upload_chunked(
        self, data: bytes, file_name: str, parent_node: str, parent_type: str, app_id: str | None
    ) -> str:
        body = {
            "file_name": file_name,
            "parent_type": parent_type,
            "parent_node": parent_node,
            "size": len(data),
        }
        plan = await self._fetch(
            UploadPlan,
            "POST",
            f"{_FILES}/upload_prepare",
            "drive.file.upload_prepare",
            app_id,
            body,
            rate_family="drive.upload",
        )
        if plan.block_size <= 0 and data:
            raise ConfigError(f"Lark returned an unusable block_size {plan.block_size}")
        for seq in range(plan.block_num):
            part = data[seq * plan.block_size : (seq + 1) * plan.block_size]
            form = [
                FormField(name="upload_id", value=plan.upload_id),
                FormField(name="seq", value=str(seq)),
                FormField(name="size", value=str(len(part))),
                FormField(name="checksum", value=str(zlib.adler32(part))),
                file_field(part, file_name),
            ]
            await self._call(
                "POST",
                f"{_FILES}/upload_part",
                api="drive.file.upload_part",
                app_id=app_id,
                form=form,
                idempotent=True,  # re-sending part ``seq`` of the same upload_id overwrites it
                rate_family="drive.upload",
            )
        reply = await self._fetch(
            FileToken,
            "POST",
            f"{_FILES}/upload_finish",
            "drive.file.upload_finish",
            app_id,
            {"upload_id": plan.upload_id, "block_num": plan.block_num},
            rate_family="drive.upload",
        )
        return reply.file_token

    async def download_file(
        self, file_token: str, *, app_id: str | None = None, timeout: float | None = None
    ) -> bytes:
        """The content of a drive file."""
        require(file_token, "file_token")
        reply = await self._call(
            "GET",
            lark_path(_FILES + "/{file_token}/download", file_token=file_token),
            api="drive.file.download",
            app_id=app_id,
            binary=True,
            rate_family="drive",
        )
        return reply.content

    async def delete_file(
        self,
        file_token: str,
        *,
        doc_type: str,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Delete a file, doc or folder; returns Lark's ``task_id`` for folders, else ``""``."""
        check_delete(file_token, doc_type)
        path, query = lark_path(_FILES + "/{file_token}", file_token=file_token), {"type": doc_type}
        api = "drive.file.delete"
        reply = await self._fetch(
            _TaskId, "DELETE", path, api, app_id, query=query, rate_family="drive"
        )
        return reply.task_id
