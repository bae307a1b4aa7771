"""`SheetsMixin`: cell values through Sheets v2 (part of `DocClient`).

Ranges are ``<sheetId>!A1:C10`` (also ``<sheetId>``, ``<sheetId>!A:C``, ``<sheetId>!A1``);
writes are checked against Lark's limits (≤5000 rows, ≤100 columns, ≤50,000 characters a
cell) and against the range's own bounds before anything is sent. The range goes into the
path of ``values/:range`` percent-encoded (``!`` and ``:`` included).

Chosen where Lark's docs are silent: ``values_batch_get`` takes the ranges as one
comma-separated ``ranges`` parameter, so a range containing a comma is rejected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import msgspec

from application.base_client import BaseServiceClient, decode_data
from domain.errors import ConfigError
from domain.models.docs import (
    INSERT_DATA_OPTIONS,
    VALUE_RENDER_OPTIONS,
    AppendResult,
    UpdatedRange,
    ValueRange,
    check_values,
    parse_range,
)

_V2 = "/open-apis/sheets/v2/spreadsheets"
Rows = Sequence[Sequence[Any]]


class _ReadReply(msgspec.Struct):
    valueRange: ValueRange


class _BatchRead(msgspec.Struct):
    valueRanges: list[ValueRange] = []


class _BatchWrite(msgspec.Struct):
    responses: list[UpdatedRange] = []


def _token(spreadsheet_token: str) -> str:
    if not spreadsheet_token or not isinstance(spreadsheet_token, str):
        raise ConfigError("spreadsheet_token is empty")
    return spreadsheet_token


def _render(option: str | None) -> None:
    if option is not None and option not in VALUE_RENDER_OPTIONS:
        raise ConfigError(
            f"value_render_option must be one of {sorted(VALUE_RENDER_OPTIONS)}, not {option!r}"
        )


def _rows(values: Rows) -> list[list[Any]]:
    if isinstance(values, (str, bytes)):
        raise ConfigError("values must be a list of rows")
    out = []
    for row in values:
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            raise ConfigError("each row must be a list of cell values")
        out.append(list(row))
    return out


class SheetsMixin(BaseServiceClient):
    """Sheets v2 values: read, write, append, batch read and batch write."""

    async def read_range(
        self,
        spreadsheet_token: str,
        range_: str,
        *,
        value_render_option: str | None = None,
        app_id: str | None = None,
    ) -> ValueRange:
        """The values of one range, row by row."""
        _token(spreadsheet_token)
        parse_range(range_)
        _render(value_render_option)
        reply = await self._call(
            "GET",
            f"{_V2}/{spreadsheet_token}/values/{quote(range_, safe='')}",
            api="sheets.values.get",
            app_id=app_id,
            query={"valueRenderOption": value_render_option},
            rate_family="sheets",
        )
        return decode_data(reply.data, _ReadReply, api="sheets.values.get").valueRange

    async def write_range(
        self, spreadsheet_token: str, range_: str, values: Rows, *, app_id: str | None = None
    ) -> UpdatedRange:
        """Overwrite a range with ``values`` (rows of cells)."""
        _token(spreadsheet_token)
        rows = _rows(values)
        check_values(range_, rows)
        reply = await self._call(
            "PUT",
            f"{_V2}/{spreadsheet_token}/values",
            api="sheets.values.update",
            app_id=app_id,
            json={"valueRange": {"range": range_, "values": rows}},
            rate_family="sheets",
        )
        return decode_data(reply.data, UpdatedRange, api="sheets.values.update")

    async def append_rows(
        self,
        spreadsheet_token: str,
        range_: str,
        values: Rows,
        *,
        insert_data_option: str = "OVERWRITE",
        app_id: str | None = None,
    ) -> AppendResult:
        """Add rows after the last non-empty row of ``range_``; ``INSERT_ROWS`` inserts new
        rows instead of writing over empty ones."""
        _token(spreadsheet_token)
        if insert_data_option not in INSERT_DATA_OPTIONS:
            raise ConfigError(
                f"insert_data_option must be one of {sorted(INSERT_DATA_OPTIONS)}, "
                f"not {insert_data_option!r}"
            )
        rows = _rows(values)
        check_values(range_, rows)
        reply = await self._call(
            "POST",
            f"{_V2}/{spreadsheet_token}/values_append",
            api="sheets.values.append",
            app_id=app_id,
            query={"insertDataOption": insert_data_option},
            json={"valueRange": {"range": range_, "values": rows}},
            rate_family="sheets",
        )
        return decode_data(reply.data, AppendResult, api="sheets.values.append")

    async def batch_read_ranges(
        self,
        spreadsheet_token: str,
        ranges: Sequence[str],
        *,
        value_render_option: str | None = None,
        app_id: str | None = None,
    ) -> list[ValueRange]:
        """The values of several ranges in one call, in the order asked."""
        _token(spreadsheet_token)
        if not ranges or isinstance(ranges, str):
            raise ConfigError("ranges must be a non-empty list of ranges")
        for r in ranges:
            parse_range(r)
            if "," in r:
                raise ConfigError(f"range {r!r} contains a comma")
        _render(value_render_option)
        reply = await self._call(
            "GET",
            f"{_V2}/{spreadsheet_token}/values_batch_get",
            api="sheets.values.batch_get",
            app_id=app_id,
            query={"ranges": ",".join(ranges), "valueRenderOption": value_render_option},
            rate_family="sheets",
        )
        return decode_data(reply.data, _BatchRead, api="sheets.values.batch_get").valueRanges

    async def batch_write_ranges(
        self,
        spreadsheet_token: str,
        value_ranges: Mapping[str, Rows] | Sequence[tuple[str, Rows]],
        *,
        app_id: str | None = None,
    ) -> list[UpdatedRange]:
        """Write several ranges in one call; each range is checked like `write_range`."""
        _token(spreadsheet_token)
        pairs = list(value_ranges.items()) if isinstance(value_ranges, Mapping) else value_ranges
        if not pairs:
            raise ConfigError("value_ranges is empty")
        body = []
        for range_, values in pairs:
            rows = _rows(values)
            check_values(range_, rows)
            body.append({"range": range_, "values": rows})
        reply = await self._call(
            "POST",
            f"{_V2}/{spreadsheet_token}/values_batch_update",
            api="sheets.values.batch_update",
            app_id=app_id,
            json={"valueRanges": body},
            rate_family="sheets",
        )
        return decode_data(reply.data, _BatchWrite, api="sheets.values.batch_update").responses
