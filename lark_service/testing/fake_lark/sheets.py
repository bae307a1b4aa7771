"""Fake Sheets v2 values: read, write, append, batch get and batch update.

Spreadsheets are made by tests with `add_spreadsheet` (there is no create endpoint here);
each is a drive `Node` of type ``sheet`` (ownership, grants and ``deny_scope(…, "sheets")``
as in drive.py) holding sheets of cells keyed by (row, column), 1-based.

Lark's limits, checked: ≤5000 rows and ≤100 columns per written range, ≤50,000 characters
a cell, values inside the range's bounds. Codes, UNCONFIRMED (Lark's Sheets error table
could not be re-checked): 90202 wrong range (400), 90201 bad request body (400), 90204 bad
parameter (400), 90215 sheet not found (404 here so it reads as not found), 91402
spreadsheet not found (404), 91403 forbidden (403).

Chosen where the docs are silent: reads return the full rectangle of the range, ``None`` in
empty cells, an open range (``sheet``, ``sheet!A:C``) ending at the last filled row/column;
``valueRenderOption=ToString`` turns numbers into strings; ``values_append`` writes after
the last non-empty row of the range's columns (``INSERT_ROWS`` first moves the rows below
down).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lark_service.domain.models.docs_sheets import (
    INSERT_DATA_OPTIONS,
    MAX_CELL_CHARS,
    MAX_WRITE_COLUMNS,
    MAX_WRITE_ROWS,
    RANGE_RE,
    VALUE_RENDER_OPTIONS,
    a1_range,
    column_number,
)
from lark_service.testing.fake_lark.drive_state import (
    add_node,
    check_scope,
    find_node,
    require_access,
    root_folder,
)
from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest

if TYPE_CHECKING:
    from lark_service.testing.fake_lark.server import FakeLark, HandlerResult

Cells = dict[tuple[int, int], Any]


@dataclass
class Spreadsheet:
    token: str
    sheets: dict[str, Cells] = field(default_factory=dict)
    revision: int = 0


def _wrong_range(range_: str) -> FakeLarkError:
    return FakeLarkError(400, 90202, f"wrong range: {range_}")


def add_spreadsheet(
    fake: FakeLark,
    app_id: str,
    *,
    title: str = "sheet",
    sheet_ids: tuple[str, ...] = ("sheet1",),
    folder_token: str | None = None,
) -> str:
    """Create a spreadsheet owned by ``app_id`` and return its token."""
    token = "shtcn" + secrets.token_hex(11)
    parent = folder_token or root_folder(fake, app_id)
    add_node(fake, token=token, type="sheet", name=title, parent=parent, app_id=app_id)
    book = Spreadsheet(token, {sid: {} for sid in sheet_ids})
    fake.state.setdefault("sheets", {})[token] = book
    return token


def spreadsheet(fake: FakeLark, token: str) -> Spreadsheet:
    """The stored spreadsheet (for tests to inspect cells)."""
    book = fake.state.get("sheets", {}).get(token)
    if not isinstance(book, Spreadsheet):
        raise FakeLarkError(404, 91402, "NOTEXIST")
    return book


def parse(book: Spreadsheet, range_: str) -> tuple[Cells, str, list[int]]:
    """(cells, sheet_id, [c1, r1, c2, r2]) with 0 for open bounds."""
    m = RANGE_RE.match(range_)
    if m is None:
        raise _wrong_range(range_)
    sheet, c1, r1, c2, r2 = (g or "" for g in m.groups())
    if "!" in range_ and not (c1 or r1):
        raise _wrong_range(range_)
    if ":" not in range_:
        c2, r2 = c1, r1
    elif not (c2 or r2):
        raise _wrong_range(range_)
    cells = book.sheets.get(sheet)
    if cells is None:
        raise FakeLarkError(404, 90215, f"sheetId not found: {sheet}")
    return cells, sheet, [column_number(c1), int(r1 or 0), column_number(c2), int(r2 or 0)]


def read(book: Spreadsheet, range_: str, render: str | None) -> dict[str, Any]:
    cells, sheet, (c1, r1, c2, r2) = parse(book, range_)
    c1, r1 = c1 or 1, r1 or 1
    c2 = c2 or max((c for _, c in cells), default=c1)
    r2 = r2 or max((r for r, _ in cells), default=r1)
    values = [[cells.get((r, c)) for c in range(c1, c2 + 1)] for r in range(r1, r2 + 1)]
    if render == "ToString":
        values = [[v if v is None else str(v) for v in row] for row in values]
    return {
        "majorDimension": "ROWS",
        "range": a1_range(sheet, c1, r1, c2, r2),
        "revision": book.revision,
        "values": values,
    }


def check_write(range_: Any, values: Any, book: Spreadsheet) -> tuple[Cells, str, list[int]]:
    if not isinstance(range_, str) or not isinstance(values, list) or not values:
        raise FakeLarkError(400, 90201, "wrong request body")
    if not all(isinstance(row, list) for row in values):
        raise FakeLarkError(400, 90201, "wrong request body: rows must be lists")
    cells, sheet, bounds = parse(book, range_)
    c1, r1, c2, r2 = bounds
    if not (c1 or r1):
        raise _wrong_range(range_)
    width = max(len(row) for row in values)
    if len(values) > MAX_WRITE_ROWS or width > MAX_WRITE_COLUMNS:
        msg = f"too many rows or columns: at most {MAX_WRITE_ROWS} x {MAX_WRITE_COLUMNS}"
        raise FakeLarkError(400, 90202, msg)
    if any(isinstance(v, str) and len(v) > MAX_CELL_CHARS for row in values for v in row):
        raise FakeLarkError(400, 90202, f"a cell holds over {MAX_CELL_CHARS} characters")
    c1, r1 = c1 or 1, r1 or 1
    if (r2 and len(values) > r2 - r1 + 1) or (c2 and width > c2 - c1 + 1):
        raise _wrong_range(range_)
    return cells, sheet, [c1, r1, width, len(values)]


def write(book: Spreadsheet, range_: Any, values: Any) -> dict[str, Any]:
    cells, sheet, (c1, r1, width, height) = check_write(range_, values, book)
    for dr, row in enumerate(values):
        for dc in range(width):
            cells[(r1 + dr, c1 + dc)] = row[dc] if dc < len(row) else None
    book.revision += 1
    return {
        "spreadsheetToken": book.token,
        "updatedRange": a1_range(sheet, c1, r1, c1 + width - 1, r1 + height - 1),
        "updatedRows": height,
        "updatedColumns": width,
        "updatedCells": width * height,
        "revision": book.revision,
    }


def register(fake: FakeLark) -> None:
    """Register the Sheets v2 value routes."""
    fake.on_reset(lambda: fake.state.pop("sheets", None))
    base = "/open-apis/sheets/v2/spreadsheets/{token}"

    def open_book(req: FakeRequest, need: str) -> Spreadsheet:
        info = fake.require_token(req)
        check_scope(fake, info, "sheets")
        book = spreadsheet(fake, req.path_params["token"])
        node = find_node(fake, book.token, FakeLarkError(404, 91402, "NOTEXIST"))
        require_access(fake, info, node, need, FakeLarkError(403, 91403, "FORBIDDEN"))
        return book

    def render_option(req: FakeRequest) -> str | None:
        render = req.query.get("valueRenderOption")
        if render is not None and render not in VALUE_RENDER_OPTIONS:
            raise FakeLarkError(400, 90204, "wrong request param: valueRenderOption")
        return render

    def value_range(req: FakeRequest) -> tuple[Any, Any]:
        body = req.json()
        vr = body.get("valueRange") if isinstance(body, dict) else None
        if not isinstance(vr, dict):
            raise FakeLarkError(400, 90201, "wrong request body: valueRange")
        return vr.get("range"), vr.get("values")

    @fake.route("GET", base + "/values/{range}")
    async def get_values(req: FakeRequest) -> HandlerResult:
        book = open_book(req, "view")
        vr = read(book, req.path_params["range"], render_option(req))
        return {"revision": book.revision, "spreadsheetToken": book.token, "valueRange": vr}

    @fake.route("PUT", base + "/values")
    async def put_values(req: FakeRequest) -> HandlerResult:
        book = open_book(req, "edit")
        return write(book, *value_range(req))

    @fake.route("POST", base + "/values_append")
    async def append(req: FakeRequest) -> HandlerResult:
        book = open_book(req, "edit")
        option = req.query.get("insertDataOption") or "OVERWRITE"
        if option not in INSERT_DATA_OPTIONS:
            raise FakeLarkError(400, 90204, "wrong request param: insertDataOption")
        range_, values = value_range(req)
        cells, sheet, (c1, r1, width, height) = check_write(range_, values, book)
        cols = range(c1, c1 + width)
        used = [r for (r, c), v in cells.items() if c in cols and r >= r1 and v is not None]
        start = max(used, default=r1 - 1) + 1
        if option == "INSERT_ROWS":
            moved = {((r + height if r >= start else r), c): v for (r, c), v in cells.items()}
            cells.clear()
            cells.update(moved)
        updates = write(
            book, a1_range(sheet, c1, start, c1 + width - 1, start + height - 1), values
        )
        table = a1_range(sheet, c1, r1, c1 + width - 1, start + height - 1)
        return {
            "spreadsheetToken": book.token,
            "tableRange": table,
            "revision": book.revision,
            "updates": updates,
        }

    @fake.route("GET", base + "/values_batch_get")
    async def batch_get(req: FakeRequest) -> HandlerResult:
        book = open_book(req, "view")
        ranges = [r for r in (req.query.get("ranges") or "").split(",") if r]
        if not ranges:
            raise FakeLarkError(400, 90204, "wrong request param: ranges")
        render = render_option(req)
        out = [read(book, r, render) for r in ranges]
        total = sum(len(v["values"]) * max(map(len, v["values"]), default=0) for v in out)
        return {
            "revision": book.revision,
            "spreadsheetToken": book.token,
            "totalCells": total,
            "valueRanges": out,
        }

    @fake.route("POST", base + "/values_batch_update")
    async def batch_update(req: FakeRequest) -> HandlerResult:
        book = open_book(req, "edit")
        body = req.json()
        items = body.get("valueRanges") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise FakeLarkError(400, 90201, "wrong request body: valueRanges")
        if not all(isinstance(item, dict) for item in items):
            raise FakeLarkError(400, 90201, "wrong request body: valueRanges")
        for item in items:  # validate all before writing any, so a bad one writes nothing
            check_write(item.get("range"), item.get("values"), book)
        responses = [write(book, item["range"], item["values"]) for item in items]
        return {"revision": book.revision, "spreadsheetToken": book.token, "responses": responses}
