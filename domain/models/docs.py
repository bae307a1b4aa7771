"""Cloud docs as Lark sends them: docx documents and blocks, drive files, permission
members and Sheets v2 value ranges. Field names are Lark's own (Sheets v2 uses camelCase).

Value sets and limits used to reject bad input before a call live here too, with their
source: Lark's docs (docx block structure, drive v1, permission-member create, Sheets
"write to a single range") unless marked as a choice.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from domain.errors import ConfigError

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


# sheets ------------------------------------------------------------------------------------
MAX_WRITE_ROWS = 5000  # "write to a single range": ≤5000 rows and ≤100 columns per call
MAX_WRITE_COLUMNS = 100
MAX_CELL_CHARS = 50_000
VALUE_RENDER_OPTIONS = frozenset({"ToString", "FormattedValue", "Formula", "UnformattedValue"})
INSERT_DATA_OPTIONS = frozenset({"OVERWRITE", "INSERT_ROWS"})
# <sheetId>[!<cell>[:<cell>]]; a cell is letters and/or digits (A1, A, 1).
RANGE_RE = re.compile(r"^([^!\s]+)(?:!([A-Z]{0,3})(\d{0,7})(?::([A-Z]{0,3})(\d{0,7}))?)?$")


class ValueRange(msgspec.Struct, kw_only=True):
    """Cells of one range, row by row (Sheets v2 keeps camelCase names, and so do we)."""

    range: str = ""
    majorDimension: str = "ROWS"
    revision: int = 0
    values: list[list[Any]] = []


class UpdatedRange(msgspec.Struct, kw_only=True):
    spreadsheetToken: str = ""
    updatedRange: str = ""
    updatedRows: int = 0
    updatedColumns: int = 0
    updatedCells: int = 0
    revision: int = 0


class AppendResult(msgspec.Struct, kw_only=True):
    spreadsheetToken: str = ""
    tableRange: str = ""
    revision: int = 0
    updates: UpdatedRange | None = None


def column_number(letters: str) -> int:
    """``"A"`` → 1, ``"AA"`` → 27."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def column_letters(number: int) -> str:
    """1 → ``"A"``, 27 → ``"AA"``."""
    out = ""
    while number > 0:
        number, rem = divmod(number - 1, 26)
        out = chr(65 + rem) + out
    return out


class CellRange(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed range; a 0 bound is open (whole column or row, or the whole sheet)."""

    sheet_id: str
    first_col: int = 0
    first_row: int = 0
    last_col: int = 0
    last_row: int = 0

    @property
    def has_cells(self) -> bool:
        return bool(self.first_col or self.first_row)


def parse_range(range_: str) -> CellRange:
    """Parse ``<sheetId>!A1:C10`` (also ``<sheetId>``, ``<sheetId>!A1``, ``<sheetId>!A:C``);
    raise `ConfigError` on anything else."""
    m = RANGE_RE.match(range_ or "")
    if m is None:
        raise ConfigError(f"bad Sheets range {range_!r}: expected '<sheetId>!A1:C10'")
    sheet, c1, r1, c2, r2 = m.groups()
    cells = (c1 or "", r1 or "", c2 or "", r2 or "")
    if "!" in range_ and not (cells[0] or cells[1]):
        raise ConfigError(f"bad Sheets range {range_!r}: no start cell")
    if ":" in range_ and not (cells[2] or cells[3]):
        raise ConfigError(f"bad Sheets range {range_!r}: no end cell")
    rng = CellRange(
        sheet_id=sheet,
        first_col=column_number(cells[0]),
        first_row=int(cells[1] or 0),
        last_col=column_number(cells[2]) if ":" in range_ else column_number(cells[0]),
        last_row=int(cells[3] or 0) if ":" in range_ else int(cells[1] or 0),
    )
    if (rng.last_col and rng.first_col > rng.last_col) or (
        rng.last_row and rng.first_row > rng.last_row
    ):
        raise ConfigError(f"bad Sheets range {range_!r}: end before start")
    return rng


def check_values(range_: str, values: list[list[Any]]) -> CellRange:
    """Check a write: a range with a start cell, Lark's row/column/cell-size limits, and
    that the values fit inside the range's explicit bounds."""
    rng = parse_range(range_)
    if not rng.has_cells:
        raise ConfigError(f"range {range_!r} names no cells; write to '<sheetId>!A1:C10'")
    if not values or not isinstance(values, list):
        raise ConfigError("values is empty: give a list of rows")
    if len(values) > MAX_WRITE_ROWS:
        raise ConfigError(f"{len(values)} rows: Lark takes at most {MAX_WRITE_ROWS} per write")
    width = max(len(row) for row in values)
    if width > MAX_WRITE_COLUMNS:
        raise ConfigError(f"{width} columns: Lark takes at most {MAX_WRITE_COLUMNS} per write")
    for row in values:
        for cell in row:
            if isinstance(cell, str) and len(cell) > MAX_CELL_CHARS:
                raise ConfigError(f"a cell holds over {MAX_CELL_CHARS} characters")
    first_row, first_col = rng.first_row or 1, rng.first_col or 1
    if rng.last_row and len(values) > rng.last_row - first_row + 1:
        raise ConfigError(f"{len(values)} rows do not fit in range {range_!r}")
    if rng.last_col and width > rng.last_col - first_col + 1:
        raise ConfigError(f"{width} columns do not fit in range {range_!r}")
    return rng
