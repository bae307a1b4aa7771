"""Cloud docs as Lark sends them: docx documents and blocks, drive files, permission
members, and (re-exported from `lark_service.domain.models.docs_sheets`) Sheets v2 value ranges.
Field
names are Lark's own.

Value sets and limits used to reject bad input before a call live here too, with their
source: Lark's docs (docx block structure, drive v1, permission-member create, Sheets
"write to a single range") unless marked as a choice.
"""

from __future__ import annotations

import msgspec

from lark_service.domain.models.docs_sheets import (
    INSERT_DATA_OPTIONS,
    MAX_CELL_CHARS,
    MAX_WRITE_COLUMNS,
    MAX_WRITE_ROWS,
    RANGE_RE,
    VALUE_RENDER_OPTIONS,
    AppendResult,
    CellRange,
    UpdatedRange,
    ValueRange,
    check_values,
    column_letters,
    column_number,
    parse_range,
)

# Sheets v2 names are defined in docs_sheets and stay importable from here.
__all__ = [
    "BLOCK_BULLET",
    "BLOCK_CALLOUT",
    "BLOCK_CODE",
    "BLOCK_DIVIDER",
    "BLOCK_HEADING1",
    "BLOCK_IMAGE",
    "BLOCK_ORDERED",
    "BLOCK_PAGE",
    "BLOCK_QUOTE",
    "BLOCK_TABLE",
    "BLOCK_TEXT",
    "BLOCK_TODO",
    "DELETE_FILE_TYPES",
    "FILE_DIRECTIONS",
    "FILE_ORDER_BY",
    "INSERT_DATA_OPTIONS",
    "MAX_BLOCKS_PAGE_SIZE",
    "MAX_CELL_CHARS",
    "MAX_CHILDREN_PER_REQUEST",
    "MAX_FILES_PAGE_SIZE",
    "MAX_FILE_NAME_CHARS",
    "MAX_MEDIA_UPLOAD_BYTES",
    "MAX_WRITE_COLUMNS",
    "MAX_WRITE_ROWS",
    "MEMBER_TYPES",
    "PERMISSION_DOC_TYPES",
    "PERMS",
    "RANGE_RE",
    "UPLOAD_ALL_MAX_BYTES",
    "VALUE_RENDER_OPTIONS",
    "AppendResult",
    "Block",
    "CellRange",
    "Divider",
    "Document",
    "DriveFile",
    "Folder",
    "Image",
    "Link",
    "Member",
    "TextBody",
    "TextElement",
    "TextElementStyle",
    "TextRun",
    "TextStyle",
    "UpdatedRange",
    "UploadPlan",
    "ValueRange",
    "check_values",
    "column_letters",
    "column_number",
    "parse_range",
]

# docx ------------------------------------------------------------------------------------
# block_type numbers (lark-api-reference.md §5).
BLOCK_PAGE, BLOCK_TEXT, BLOCK_HEADING1 = 1, 2, 3  # heading1..9 are 3..11
BLOCK_BULLET, BLOCK_ORDERED, BLOCK_CODE, BLOCK_QUOTE = 12, 13, 14, 15
BLOCK_TODO, BLOCK_CALLOUT, BLOCK_DIVIDER, BLOCK_IMAGE, BLOCK_TABLE = 17, 19, 22, 27, 31
MAX_CHILDREN_PER_REQUEST = 50  # POST …/blocks/:block_id/children
MAX_BLOCKS_PAGE_SIZE = 500  # GET …/blocks
MAX_MEDIA_UPLOAD_BYTES = 20 * 1024 * 1024  # medias/upload_all, like files/upload_all


class Link(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    """A hyperlink; Lark wants ``url`` percent-encoded (the builders do it)."""

    url: str = ""


class TextElementStyle(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    bold: bool = False
    italic: bool = False
    strikethrough: bool = False
    underline: bool = False
    inline_code: bool = False
    link: Link | None = None


class TextRun(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    content: str = ""
    text_element_style: TextElementStyle | None = None


class TextElement(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    """One element of a text block; only ``text_run`` is modelled (mentions etc. ignored)."""

    text_run: TextRun | None = None


class TextStyle(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    align: int | None = None
    done: bool | None = None  # todo blocks
    folded: bool | None = None
    language: int | None = None  # code blocks: Lark's CodeLanguage number
    wrap: bool | None = None


class TextBody(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    """The body of every text-like block (text, heading1–9, bullet, ordered, code, …)."""

    elements: list[TextElement] = []
    style: TextStyle | None = None

    @property
    def plain_text(self) -> str:
        return "".join(e.text_run.content for e in self.elements if e.text_run is not None)


class Divider(msgspec.Struct, kw_only=True):
    """Lark sends ``divider: {}``."""


class Image(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    token: str | None = None
    width: int | None = None
    height: int | None = None
    align: int | None = None


class Block(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True):
    """A docx block. Exactly one body field matches ``block_type``; other kinds of block
    decode with only the common fields set."""

    block_type: int
    block_id: str = ""
    parent_id: str = ""
    children: list[str] = []
    page: TextBody | None = None
    text: TextBody | None = None
    heading1: TextBody | None = None
    heading2: TextBody | None = None
    heading3: TextBody | None = None
    heading4: TextBody | None = None
    heading5: TextBody | None = None
    heading6: TextBody | None = None
    heading7: TextBody | None = None
    heading8: TextBody | None = None
    heading9: TextBody | None = None
    bullet: TextBody | None = None
    ordered: TextBody | None = None
    code: TextBody | None = None
    quote: TextBody | None = None
    todo: TextBody | None = None
    divider: Divider | None = None
    image: Image | None = None

    @property
    def body(self) -> TextBody | None:
        """The text body of a text-like block, whatever its kind."""
        field = TEXT_FIELDS.get(self.block_type)
        return None if field is None else getattr(self, field)


TEXT_FIELDS: dict[int, str] = {
    BLOCK_PAGE: "page",
    BLOCK_TEXT: "text",
    **{BLOCK_HEADING1 + i: f"heading{i + 1}" for i in range(9)},
    BLOCK_BULLET: "bullet",
    BLOCK_ORDERED: "ordered",
    BLOCK_CODE: "code",
    BLOCK_QUOTE: "quote",
    BLOCK_TODO: "todo",
}


class Document(msgspec.Struct, kw_only=True):
    document_id: str
    revision_id: int = 0
    title: str = ""


# drive and permissions ---------------------------------------------------------------------
MAX_FILES_PAGE_SIZE = 200  # GET /drive/v1/files
FILE_ORDER_BY = frozenset({"EditedTime", "CreatedTime"})
FILE_DIRECTIONS = frozenset({"ASC", "DESC"})
UPLOAD_ALL_MAX_BYTES = 20 * 1024 * 1024  # files/upload_all: 20971520 bytes
MAX_FILE_NAME_CHARS = 250
DELETE_FILE_TYPES = frozenset(
    {"file", "docx", "bitable", "folder", "doc", "sheet", "mindnote", "shortcut", "slides"}
)
PERMISSION_DOC_TYPES = frozenset(
    {"doc", "sheet", "file", "wiki", "bitable", "docx", "folder", "mindnote", "minutes", "slides"}
)
MEMBER_TYPES = frozenset(
    {
        "email",
        "openid",
        "unionid",
        "openchat",
        "opendepartmentid",
        "userid",
        "groupid",
        "appid",
        "wikispaceid",
    }
)
PERMS = frozenset({"view", "edit", "full_access"})


class DriveFile(msgspec.Struct, kw_only=True):
    """An entry of a folder. Times are Unix seconds; Lark sends them as strings."""

    token: str
    name: str = ""
    type: str = ""
    parent_token: str = ""
    url: str = ""
    created_time: str | int = ""
    modified_time: str | int = ""
    owner_id: str = ""


class Folder(msgspec.Struct, kw_only=True):
    token: str
    url: str = ""


class UploadPlan(msgspec.Struct, kw_only=True):
    """The reply of ``upload_prepare``: send ``block_num`` parts of ``block_size`` bytes."""

    upload_id: str
    block_size: int
    block_num: int


class Member(msgspec.Struct, kw_only=True):
    """A collaborator of a cloud doc."""

    member_type: str
    member_id: str
    perm: str = ""
    perm_type: str = ""
    type: str = ""
    name: str = ""
    avatar: str = ""
