"""`DriveMixin`: drive files, folders, uploads, downloads and permissions (part of `DocClient`).

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

from application.base_client import BaseServiceClient, decode_data
from application.pagination import iterate_pages
from domain.errors import ConfigError
from domain.models.common import Page
from domain.models.docs import (
    DELETE_FILE_TYPES,
    FILE_DIRECTIONS,
    FILE_ORDER_BY,
    MAX_FILE_NAME_CHARS,
    MAX_FILES_PAGE_SIZE,
    MEMBER_TYPES,
    PERMISSION_DOC_TYPES,
    PERMS,
    UPLOAD_ALL_MAX_BYTES,
    DriveFile,
    Folder,
    Member,
    UploadPlan,
)
from domain.wire import FormField

_FILES = "/open-apis/drive/v1/files"
_PERMS = "/open-apis/drive/v1/permissions"


class _FileList(msgspec.Struct):
    files: list[DriveFile] = []
    has_more: bool = False
    next_page_token: str = ""


class _FileToken(msgspec.Struct):
    file_token: str


class _TaskId(msgspec.Struct):
    task_id: str = ""


class _MemberReply(msgspec.Struct):
    member: Member


class _Members(msgspec.Struct):
    items: list[Member] = []


def _require(value: str, name: str) -> None:
    if not value or not isinstance(value, str):
        raise ConfigError(f"{name} is empty")


def _one_of(value: str, allowed: frozenset[str], name: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {sorted(allowed)}, not {value!r}")


def _file_part(data: bytes, file_name: str) -> FormField:
    return FormField(
        name="file", value=data, filename=file_name, content_type="application/octet-stream"
    )


class DriveMixin(BaseServiceClient):
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
    ) -> Page[DriveFile]:
        """One page of a folder's entries (the app's root folder when ``folder_token`` is None)."""
        if not 1 <= page_size <= MAX_FILES_PAGE_SIZE:
            raise ConfigError(f"page_size must be 1–{MAX_FILES_PAGE_SIZE}, not {page_size}")
        _one_of(order_by, FILE_ORDER_BY, "order_by")
        _one_of(direction, FILE_DIRECTIONS, "direction")
        query = {
            "folder_token": folder_token,
            "page_size": page_size,
            "page_token": page_token,
            "order_by": order_by,
            "direction": direction,
        }
        reply = await self._call(
            "GET", _FILES, api="drive.file.list", app_id=app_id, query=query, rate_family="drive"
        )
        data = decode_data(reply.data, _FileList, api="drive.file.list")
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
        self, name: str, *, folder_token: str, app_id: str | None = None
    ) -> Folder:
        """Create a folder ``name`` inside the folder ``folder_token``."""
        _require(name, "name")
        _require(folder_token, "folder_token")
        reply = await self._call(
            "POST",
            f"{_FILES}/create_folder",
            api="drive.file.create_folder",
            app_id=app_id,
            json={"name": name, "folder_token": folder_token},
            rate_family="drive",
        )
        return decode_data(reply.data, Folder, api="drive.file.create_folder")

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
        """Upload bytes (or the file at a path) into a folder; returns the file_token.

        ``chunked=None`` picks the multipart upload above 20 MB; True or False forces it.
        """
        _require(file_name, "file_name")
        _require(parent_node, "parent_node")
        if len(file_name) > MAX_FILE_NAME_CHARS:
            raise ConfigError(f"file_name is over {MAX_FILE_NAME_CHARS} characters")
        _one_of(parent_type, frozenset({"explorer"}), "parent_type")
        if not isinstance(data, bytes):
            data = await anyio.Path(data).read_bytes()
        if chunked is None:
            chunked = len(data) > UPLOAD_ALL_MAX_BYTES
        elif not chunked and len(data) > UPLOAD_ALL_MAX_BYTES:
            raise ConfigError(f"upload_all takes at most {UPLOAD_ALL_MAX_BYTES} bytes")
        head = [
            FormField(name="file_name", value=file_name),
            FormField(name="parent_type", value=parent_type),
            FormField(name="parent_node", value=parent_node),
            FormField(name="size", value=str(len(data))),
        ]
        if not chunked:
            form = [
                *head,
                FormField(name="checksum", value=str(zlib.adler32(data))),
                _file_part(data, file_name),
            ]
            reply = await self._call(
                "POST",
                f"{_FILES}/upload_all",
                api="drive.file.upload_all",
                app_id=app_id,
                form=form,
                rate_family="drive.upload",
            )
            return decode_data(reply.data, _FileToken, api="drive.file.upload_all").file_token
        return await self._upload_chunked(data, file_name, parent_node, parent_type, app_id)

    async def _upload_chunked(
        self, data: bytes, file_name: str, parent_node: str, parent_type: str, app_id: str | None
    ) -> str:
        reply = await self._call(
            "POST",
            f"{_FILES}/upload_prepare",
            api="drive.file.upload_prepare",
            app_id=app_id,
            json={
                "file_name": file_name,
                "parent_type": parent_type,
                "parent_node": parent_node,
                "size": len(data),
            },
            rate_family="drive.upload",
        )
        plan = decode_data(reply.data, UploadPlan, api="drive.file.upload_prepare")
        if plan.block_size <= 0 and data:
            raise ConfigError(f"Lark returned an unusable block_size {plan.block_size}")
        for seq in range(plan.block_num):
            part = data[seq * plan.block_size : (seq + 1) * plan.block_size]
            form = [
                FormField(name="upload_id", value=plan.upload_id),
                FormField(name="seq", value=str(seq)),
                FormField(name="size", value=str(len(part))),
                FormField(name="checksum", value=str(zlib.adler32(part))),
                _file_part(part, file_name),
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
        reply = await self._call(
            "POST",
            f"{_FILES}/upload_finish",
            api="drive.file.upload_finish",
            app_id=app_id,
            json={"upload_id": plan.upload_id, "block_num": plan.block_num},
            rate_family="drive.upload",
        )
        return decode_data(reply.data, _FileToken, api="drive.file.upload_finish").file_token

    async def download_file(self, file_token: str, *, app_id: str | None = None) -> bytes:
        """The content of a drive file."""
        _require(file_token, "file_token")
        reply = await self._call(
            "GET",
            f"{_FILES}/{file_token}/download",
            api="drive.file.download",
            app_id=app_id,
            binary=True,
            rate_family="drive",
        )
        return reply.content

    async def delete_file(
        self, file_token: str, *, doc_type: str, app_id: str | None = None
    ) -> str:
        """Delete a file, doc or folder; returns Lark's ``task_id`` for folders, else ``""``."""
        _require(file_token, "file_token")
        _one_of(doc_type, DELETE_FILE_TYPES, "doc_type")
        reply = await self._call(
            "DELETE",
            f"{_FILES}/{file_token}",
            api="drive.file.delete",
            app_id=app_id,
            query={"type": doc_type},
            rate_family="drive",
        )
        return decode_data(reply.data, _TaskId, api="drive.file.delete").task_id

    # permissions ---------------------------------------------------------------------
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
        """Make ``member_id`` a collaborator of the doc ``token`` with ``perm``."""
        _require(token, "token")
        _require(member_id, "member_id")
        _one_of(doc_type, PERMISSION_DOC_TYPES, "doc_type")
        _one_of(member_type, MEMBER_TYPES, "member_type")
        _one_of(perm, PERMS, "perm")
        reply = await self._call(
            "POST",
            f"{_PERMS}/{token}/members",
            api="drive.permission.member.create",
            app_id=app_id,
            query={"type": doc_type, "need_notification": need_notification},
            json={"member_type": member_type, "member_id": member_id, "perm": perm},
            rate_family="drive",
        )
        return decode_data(reply.data, _MemberReply, api="drive.permission.member.create").member

    async def list_permission_members(
        self, token: str, *, doc_type: str, app_id: str | None = None
    ) -> list[Member]:
        """The collaborators of the doc ``token``."""
        _require(token, "token")
        _one_of(doc_type, PERMISSION_DOC_TYPES, "doc_type")
        reply = await self._call(
            "GET",
            f"{_PERMS}/{token}/members",
            api="drive.permission.member.list",
            app_id=app_id,
            query={"type": doc_type},
            rate_family="drive",
        )
        return decode_data(reply.data, _Members, api="drive.permission.member.list").items

    async def revoke_permission(
        self,
        token: str,
        *,
        doc_type: str,
        member_type: str,
        member_id: str,
        app_id: str | None = None,
    ) -> None:
        """Remove a collaborator from the doc ``token``."""
        _require(token, "token")
        _require(member_id, "member_id")
        _one_of(doc_type, PERMISSION_DOC_TYPES, "doc_type")
        _one_of(member_type, MEMBER_TYPES, "member_type")
        await self._call(
            "DELETE",
            f"{_PERMS}/{token}/members/{member_id}",
            api="drive.permission.member.delete",
            app_id=app_id,
            query={"type": doc_type, "member_type": member_type},
            rate_family="drive",
        )
