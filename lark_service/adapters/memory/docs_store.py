"""`DocsStore`: the dicts behind `InMemoryDocs` and the helpers its parts share.

Every document, spreadsheet, folder and file is a `DriveFile` in ``files`` (the root folder
is `ROOT`); docx blocks, file bytes, permission members and sheet cells are kept beside it.
"""

from __future__ import annotations

import itertools
import time
from typing import Any, TypeVar

from lark_service.domain.errors import NotFoundError
from lark_service.domain.models.docs import Block, Document, DriveFile, Member

ROOT = "fldmemoryroot"
T = TypeVar("T")


class DocsStore:
    """The state shared by the docx, drive and Sheets parts of `InMemoryDocs`."""

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
