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

import msgspec

from lark_service.application.clients.drive_calls import CloudDocCalls
from lark_service.domain.models.docs_checks import require
from lark_service.domain.models.docs_sheets import (
    AppendResult,
    Rows,
    UpdatedRange,
    ValueRange,
    check_insert_option,
    check_read_ranges,
    check_render_option,
    check_values,
    parse_range,
    range_pairs,
    rows_of,
)
from lark_service.domain.models.ids import lark_path

_V2 = "/open-apis/sheets/v2/spreadsheets"


class _ReadReply(msgspec.Struct):
    valueRange: ValueRange


class _BatchRead(msgspec.Struct):
    valueRanges: list[ValueRange] = []


class _BatchWrite(msgspec.Struct):
    responses: list[UpdatedRange] = []


class SheetsMixin(CloudDocCalls):
    """Sheets v2 values: read, write, append, batch read and batch write."""

    async def read_range(
        self,
        spreadsheet_token: str,
        range_: str,
        *,
        value_render_option: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> ValueRange:
        """The values of one range, row by row."""
        require(spreadsheet_token, "spreadsheet_token")
        parse_range(range_)
        check_render_option(value_render_option)
        path = lark_path(
            _V2 + "/{spreadsheet_token}/values/{range_}",
            spreadsheet_token=spreadsheet_token,
            range_=range_,
        )
        reply = await self._fetch(
            _ReadReply,
            "GET",
            path,
            "sheets.values.get",
            app_id,
            query={"valueRenderOption": value_render_option},
            rate_family="sheets",
        )
        return reply.valueRange

    async def write_range(
        self,
        spreadsheet_token: str,
        range_: str,
        values: Rows,
        *,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> UpdatedRange:
        """Overwrite a range with ``values`` (rows of cells)."""
        require(spreadsheet_token, "spreadsheet_token")
        rows = rows_of(values)
        check_values(range_, rows)
        path = lark_path(_V2 + "/{spreadsheet_token}/values", spreadsheet_token=spreadsheet_token)
        return await self._fetch(
            UpdatedRange,
            "PUT",
            path,
            "sheets.values.update",
            app_id,
            {"valueRange": {"range": range_, "values": rows}},
            rate_family="sheets",
        )

    async def append_rows(
        self,
        spreadsheet_token: str,
        range_: str,
        values: Rows,
        *,
        insert_data_option: str = "OVERWRITE",
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> AppendResult:
        """Add rows after the last non-empty row of ``range_``; ``INSERT_ROWS`` inserts new
        rows instead of writing over empty ones."""
        require(spreadsheet_token, "spreadsheet_token")
        check_insert_option(insert_data_option)
        rows = rows_of(values)
        check_values(range_, rows)
        path = lark_path(
            _V2 + "/{spreadsheet_token}/values_append", spreadsheet_token=spreadsheet_token
        )
        return await self._fetch(
            AppendResult,
            "POST",
            path,
            "sheets.values.append",
            app_id,
            {"valueRange": {"range": range_, "values": rows}},
            query={"insertDataOption": insert_data_option},
            rate_family="sheets",
        )

    async def batch_read_ranges(
        self,
        spreadsheet_token: str,
        ranges: Sequence[str],
        *,
        value_render_option: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> list[ValueRange]:
        """The values of several ranges in one call, in the order asked."""
        require(spreadsheet_token, "spreadsheet_token")
        check_read_ranges(ranges)
        check_render_option(value_render_option)
        path = lark_path(
            _V2 + "/{spreadsheet_token}/values_batch_get", spreadsheet_token=spreadsheet_token
        )
        reply = await self._fetch(
            _BatchRead,
            "GET",
            path,
            "sheets.values.batch_get",
            app_id,
            query={"ranges": ",".join(ranges), "valueRenderOption": value_render_option},
            rate_family="sheets",
        )
        return reply.valueRanges

    async def batch_write_ranges(
        self,
        spreadsheet_token: str,
        value_ranges: Mapping[str, Rows] | Sequence[tuple[str, Rows]],
        *,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> list[UpdatedRange]:
        """Write several ranges in one call; each range is checked like `write_range`."""
        require(spreadsheet_token, "spreadsheet_token")
        body = [{"range": r, "values": rows} for r, rows in range_pairs(value_ranges)]
        path = lark_path(
            _V2 + "/{spreadsheet_token}/values_batch_update", spreadsheet_token=spreadsheet_token
        )
        reply = await self._fetch(
            _BatchWrite,
            "POST",
            path,
            "sheets.values.batch_update",
            app_id,
            {"valueRanges": body},
            rate_family="sheets",
        )
        return reply.responses
