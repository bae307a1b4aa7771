"""`InMemoryDrive`: the drive files, folders and permission members of `InMemoryDocs`.

Input is checked by the same functions as `DocClient` (`lark_service.domain.models.docs_checks`);
missing files raise `NotFoundError` 1061003, missing docs or members 1063005.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import anyio

from lark_service.adapters.memory.docs_store import ROOT, DocsStore
from lark_service.adapters.memory.paging import page_of
from lark_service.domain.errors import ConfigError, NotFoundError
from lark_service.domain.models.common import Page
from lark_service.domain.models.docs import MAX_FILES_PAGE_SIZE, DriveFile, Folder, Member
from lark_service.domain.models.docs_checks import (
    check_delete,
    check_doc,
    check_file_listing,
    check_member,
    check_perm,
    check_upload,
    require,
)


class InMemoryDrive(DocsStore):
    """drive files and folders, and the collaborators of any stored doc."""

    def _entries(self, folder_token: str | None, order_by: str, direction: str) -> list[DriveFile]:
        folder = folder_token or ROOT
        if folder not in self.files:
            raise NotFoundError("folder not found", code=1061003)
        items = [f for f in self.files.values() if f.parent_token == folder]
        key = "modified_time" if order_by == "EditedTime" else "created_time"
        items.sort(key=lambda f: int(getattr(f, key) or 0), reverse=direction == "DESC")
        return items

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
        check_file_listing(page_size, order_by, direction)
        return page_of(self._entries(folder_token, order_by, direction), page_size, page_token)

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
        check_file_listing(MAX_FILES_PAGE_SIZE, order_by, direction)
        for entry in self._entries(folder_token, order_by, direction):
            yield entry

    async def create_folder(
        self, name: str, *, folder_token: str, app_id: str | None = None
    ) -> Folder:
        """Create a folder."""
        require(name, "name")
        require(folder_token, "folder_token")
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
        check_upload(file_name, parent_node, parent_type)
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
        check_delete(file_token, doc_type)
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
        check_member(token, doc_type, member_type, member_id)
        check_perm(perm)
        member = Member(member_type=member_type, member_id=member_id, perm=perm)
        self._members(token, doc_type)[(member_type, member_id)] = member
        return member

    async def list_permission_members(
        self, token: str, *, doc_type: str, app_id: str | None = None
    ) -> list[Member]:
        """The collaborators."""
        check_doc(token, doc_type)
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
        check_member(token, doc_type, member_type, member_id)
        if self._members(token, doc_type).pop((member_type, member_id), None) is None:
            raise NotFoundError("member not found", code=1063005)
