"""Sheets v2 value ranges as Lark sends them (camelCase names, like Sheets v2), the range
syntax, and the checks made on reads and writes before any call. Re-exported by
`lark_service.domain.models.docs`.

Limits from Lark's "write to a single range" docs: ≤5000 rows and ≤100 columns per call,
≤50,000 characters a cell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from lark_service.domain.errors import ConfigError

Rows = Sequence[Sequence[Any]]

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


def rows_of(values: Rows) -> list[list[Any]]:
    """``values`` as a list of row lists; `ConfigError` unless it is a list of rows."""
    if isinstance(values, (str, bytes)):
        raise ConfigError("values must be a list of rows")
    out = []
    for row in values:
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            raise ConfigError("each row must be a list of cell values")
        out.append(list(row))
    return out


def range_pairs(
    value_ranges: Mapping[str, Rows] | Sequence[tuple[str, Rows]],
) -> list[tuple[str, list[list[Any]]]]:
    """The (range, rows) pairs of a batch write, each checked like a single write."""
    pairs = list(value_ranges.items()) if isinstance(value_ranges, Mapping) else value_ranges
    if not pairs:
        raise ConfigError("value_ranges is empty")
    out = []
    for range_, values in pairs:
        rows = rows_of(values)
        check_values(range_, rows)
        out.append((range_, rows))
    return out


def check_read_ranges(ranges: Sequence[str]) -> None:
    """The ranges of a batch read: a non-empty list of valid ranges without commas (they
    are sent as one comma-separated parameter)."""
    if not ranges or isinstance(ranges, str):
        raise ConfigError("ranges must be a non-empty list of ranges")
    for r in ranges:
        parse_range(r)
        if "," in r:
            raise ConfigError(f"range {r!r} contains a comma")


def check_render_option(option: str | None) -> None:
    """``value_render_option`` is None or one of `VALUE_RENDER_OPTIONS`."""
    if option is not None and option not in VALUE_RENDER_OPTIONS:
        raise ConfigError(
            f"value_render_option must be one of {sorted(VALUE_RENDER_OPTIONS)}, not {option!r}"
        )


def check_insert_option(option: str) -> None:
    """``insert_data_option`` is one of `INSERT_DATA_OPTIONS`."""
    if option not in INSERT_DATA_OPTIONS:
        raise ConfigError(
            f"insert_data_option must be one of {sorted(INSERT_DATA_OPTIONS)}, not {option!r}"
        )


def a1_range(sheet_id: str, first_col: int, first_row: int, last_col: int, last_row: int) -> str:
    """``<sheetId>!A1:C10`` from 1-based bounds."""
    return f"{sheet_id}!{column_letters(first_col)}{first_row}:{column_letters(last_col)}{last_row}"
