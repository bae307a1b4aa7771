"""`InMemorySheets`: the Sheets v2 values of `InMemoryDocs`.

Spreadsheets are made with `add_spreadsheet`. Values are stored as given; reads return the
rectangle of the range with ``None`` in empty cells. Input is checked by the same functions
as `DocClient` (`lark_service.domain.models.docs_sheets`); a missing spreadsheet raises
`NotFoundError`
91402, a missing sheet 90215.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lark_service.adapters.memory.docs_store import ROOT, DocsStore
from lark_service.domain.errors import NotFoundError
from lark_service.domain.models.docs_checks import require
from lark_service.domain.models.docs_sheets import (
    AppendResult,
    CellRange,
    Rows,
    UpdatedRange,
    ValueRange,
    a1_range,
    check_insert_option,
    check_read_ranges,
    check_render_option,
    check_values,
    parse_range,
    range_pairs,
    rows_of,
)

Cells = dict[tuple[int, int], Any]


class InMemorySheets(DocsStore):
    """Sheets v2 values: read, write, append, batch read and batch write."""

    def add_spreadsheet(
        self, *, title: str = "sheet", sheet_ids: Sequence[str] = ("sheet1",)
    ) -> str:
        """Create a spreadsheet in the root folder; returns its token."""
        token = self._new("shtcnmem")
        self._add_file(token, "sheet", title, ROOT)
        self.sheets[token] = {sid: {} for sid in sheet_ids}
        return token

    def _cells(self, token: str, range_: str) -> tuple[Cells, list[int]]:
        require(token, "spreadsheet_token")
        rng = parse_range(range_)
        book = self.sheets.get(token)
        if book is None:
            raise NotFoundError("spreadsheet not found", code=91402)
        if rng.sheet_id not in book:
            raise NotFoundError(f"sheet {rng.sheet_id!r} not found", code=90215)
        return book[rng.sheet_id], [rng.first_col, rng.first_row, rng.last_col, rng.last_row]

    def _write_target(
        self, token: str, range_: str, values: Rows
    ) -> tuple[Cells, CellRange, list[list[Any]], int]:
        """The cells, the checked range, the rows and their width of a write."""
        rows = rows_of(values)
        rng = check_values(range_, rows)
        cells, _ = self._cells(token, range_)
        return cells, rng, rows, max(map(len, rows))

    async def read_range(
        self,
        spreadsheet_token: str,
        range_: str,
        *,
        value_render_option: str | None = None,
        app_id: str | None = None,
    ) -> ValueRange:
        """The values of a range (``ToString`` renders every value as a string)."""
        check_render_option(value_render_option)
        cells, (c1, r1, c2, r2) = self._cells(spreadsheet_token, range_)
        c1, r1 = c1 or 1, r1 or 1
        c2 = c2 or max((c for _, c in cells), default=c1)
        r2 = r2 or max((r for r, _ in cells), default=r1)
        values = [[cells.get((r, c)) for c in range(c1, c2 + 1)] for r in range(r1, r2 + 1)]
        if value_render_option == "ToString":
            values = [[v if v is None else str(v) for v in row] for row in values]
        return ValueRange(range=a1_range(range_.split("!", 1)[0], c1, r1, c2, r2), values=values)

    async def write_range(
        self, spreadsheet_token: str, range_: str, values: Rows, *, app_id: str | None = None
    ) -> UpdatedRange:
        """Overwrite a range."""
        cells, rng, rows, width = self._write_target(spreadsheet_token, range_, values)
        c1, r1 = rng.first_col or 1, rng.first_row or 1
        for dr, row in enumerate(rows):
            for dc in range(width):
                cells[(r1 + dr, c1 + dc)] = row[dc] if dc < len(row) else None
        return UpdatedRange(
            spreadsheetToken=spreadsheet_token,
            updatedRange=a1_range(rng.sheet_id, c1, r1, c1 + width - 1, r1 + len(rows) - 1),
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
        check_insert_option(insert_data_option)
        cells, rng, rows, width = self._write_target(spreadsheet_token, range_, values)
        c1, r1 = rng.first_col or 1, rng.first_row or 1
        cols = range(c1, c1 + width)
        used = [r for (r, c), v in cells.items() if c in cols and r >= r1 and v is not None]
        start = max(used, default=r1 - 1) + 1
        if insert_data_option == "INSERT_ROWS":
            moved = {((r + len(rows) if r >= start else r), c): v for (r, c), v in cells.items()}
            cells.clear()
            cells.update(moved)
        target = a1_range(rng.sheet_id, c1, start, c1 + width - 1, start + len(rows) - 1)
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
        check_read_ranges(ranges)
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
        pairs = range_pairs(value_ranges)
        for range_, _ in pairs:
            self._cells(spreadsheet_token, range_)
        return [await self.write_range(spreadsheet_token, r, v) for r, v in pairs]
