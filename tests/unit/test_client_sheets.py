"""DocClient Sheets v2 value methods against the fake Lark server, range parsing, and the
in-memory adapter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from lark_service.application import CredentialPool, DocClient
from lark_service.domain.errors import (
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    TokenInvalidError,
)
from lark_service.domain.models.docs import CellRange, parse_range
from lark_service.testing.fake_lark import FakeLark, RecordedRequest
from lark_service.testing.fake_lark.drive import deny_scope
from lark_service.testing.fake_lark.sheets import add_spreadsheet, spreadsheet

pytestmark = pytest.mark.anyio
V2 = "/open-apis/sheets/v2/spreadsheets"


def calls(fake: FakeLark) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path.startswith(V2)]


def assert_tenant(rec: RecordedRequest) -> None:
    assert rec.headers["authorization"].startswith("Bearer t-")
    assert rec.token_info is not None and rec.token_info.kind == "tenant"


@pytest.fixture
def docs(pool: CredentialPool) -> DocClient:
    return DocClient(pool)


@pytest.fixture
def sheet(fake: FakeLark, pool: CredentialPool) -> str:
    return add_spreadsheet(fake, "cli_app0", sheet_ids=("s1", "s2"))


async def test_write_then_read(docs: DocClient, fake: FakeLark, sheet: str) -> None:
    result = await docs.write_range(sheet, "s1!A1:C2", [[1, "two", 3.5], ["a", None, True]])
    rec = calls(fake)[-1]
    assert (rec.method, rec.path) == ("PUT", f"{V2}/{sheet}/values")
    assert rec.json() == {
        "valueRange": {"range": "s1!A1:C2", "values": [[1, "two", 3.5], ["a", None, True]]}
    }
    assert_tenant(rec)
    assert (
        result.updatedRange,
        result.updatedRows,
        result.updatedColumns,
        result.updatedCells,
    ) == ("s1!A1:C2", 2, 3, 6)
    assert result.spreadsheetToken == sheet and result.revision == 1
    got = await docs.read_range(sheet, "s1!A1:C3", value_render_option="ToString")
    rec = calls(fake)[-1]
    assert rec.method == "GET" and rec.path == f"{V2}/{sheet}/values/s1!A1:C3"
    assert dict(rec.query) == {"valueRenderOption": "ToString"}
    assert got.range == "s1!A1:C3" and got.majorDimension == "ROWS"
    assert got.values == [["1", "two", "3.5"], ["a", None, "True"], [None, None, None]]
    whole = await docs.read_range(sheet, "s1")
    assert whole.values == [[1, "two", 3.5], ["a", None, True]]


async def test_append_rows_overwrite_and_insert(
    docs: DocClient, fake: FakeLark, sheet: str
) -> None:
    await docs.write_range(sheet, "s1!A1:B3", [["h1", "h2"], [1, 2], ["tail", None]])
    spreadsheet(fake, sheet).sheets["s1"][(5, 1)] = "below"
    result = await docs.append_rows(sheet, "s1!A1:B", [[3, 4]])
    rec = calls(fake)[-1]
    assert (rec.method, rec.path) == ("POST", f"{V2}/{sheet}/values_append")
    assert dict(rec.query) == {"insertDataOption": "OVERWRITE"}
    assert rec.json() == {"valueRange": {"range": "s1!A1:B", "values": [[3, 4]]}}
    assert result.updates is not None and result.updates.updatedRange == "s1!A6:B6"
    inserted = await docs.append_rows(sheet, "s1!A1:B2", [[5, 6]], insert_data_option="INSERT_ROWS")
    assert inserted.updates is not None and inserted.updates.updatedRange == "s1!A7:B7"
    assert dict(calls(fake)[-1].query) == {"insertDataOption": "INSERT_ROWS"}


async def test_batch_read_and_write(docs: DocClient, fake: FakeLark, sheet: str) -> None:
    results = await docs.batch_write_ranges(sheet, {"s1!A1:B1": [[1, 2]], "s2!C3": [["x"]]})
    rec = calls(fake)[-1]
    assert (rec.method, rec.path) == ("POST", f"{V2}/{sheet}/values_batch_update")
    assert rec.json() == {
        "valueRanges": [
            {"range": "s1!A1:B1", "values": [[1, 2]]},
            {"range": "s2!C3", "values": [["x"]]},
        ]
    }
    assert [r.updatedRange for r in results] == ["s1!A1:B1", "s2!C3:C3"]
    ranges = await docs.batch_read_ranges(
        sheet, ["s1!A1:B1", "s2!C3"], value_render_option="Formula"
    )
    rec = calls(fake)[-1]
    assert (rec.method, rec.path) == ("GET", f"{V2}/{sheet}/values_batch_get")
    assert dict(rec.query) == {"ranges": "s1!A1:B1,s2!C3", "valueRenderOption": "Formula"}
    assert [v.values for v in ranges] == [[[1, 2]], [["x"]]]
    pairs = await docs.batch_write_ranges(sheet, [("s1!A2", [["y"]])])
    assert pairs[0].updatedCells == 1


async def test_errors(docs: DocClient, fake: FakeLark, sheet: str) -> None:
    with pytest.raises(NotFoundError) as info:
        await docs.read_range(sheet, "nosheet!A1")
    assert info.value.code == 90215
    with pytest.raises(NotFoundError) as info:
        await docs.read_range("shtcnmissing", "s1!A1")
    assert info.value.code == 91402
    with pytest.raises(PermissionDeniedError) as denied:
        await docs.read_range(sheet, "s1!A1", app_id="cli_app1")
    assert denied.value.code == 91403
    deny_scope(fake, "cli_app0", "sheets")
    with pytest.raises(PermissionDeniedError) as denied:
        await docs.write_range(sheet, "s1!A1", [[1]])
    assert denied.value.code == 99991672


async def test_token_invalid_refreshes_once_then_fails(
    docs: DocClient, fake: FakeLark, sheet: str
) -> None:
    fake.inject_fault("token_invalid", path_prefix=V2, count=1)
    assert (await docs.read_range(sheet, "s1!A1")).values == [[None]]
    fake.inject_fault("token_invalid", path_prefix=V2, count=2)
    with pytest.raises(TokenInvalidError):
        await docs.read_range(sheet, "s1!A1")


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.read_range("", "s1!A1"),
        lambda d: d.read_range("sht", "A1:B2"),
        lambda d: d.read_range("sht", "s1!A1:"),
        lambda d: d.read_range("sht", "s1!B1:A1"),
        lambda d: d.read_range("sht", "s1!A1", value_render_option="Raw"),
        lambda d: d.write_range("sht", "s1", [[1]]),
        lambda d: d.write_range("sht", "s1!A1:B1", [[1, 2, 3]]),
        lambda d: d.write_range("sht", "s1!A1:A2", [[1], [2], [3]]),
        lambda d: d.write_range("sht", "s1!A1", []),
        lambda d: d.write_range("sht", "s1!A1", ["row"]),
        lambda d: d.write_range("sht", "s1!A1", [[0]] * 5001),
        lambda d: d.write_range("sht", "s1!A1", [[0] * 101]),
        lambda d: d.write_range("sht", "s1!A1", [["x" * 50_001]]),
        lambda d: d.append_rows("sht", "s1!A1", [[1]], insert_data_option="APPEND"),
        lambda d: d.batch_read_ranges("sht", []),
        lambda d: d.batch_read_ranges("sht", "s1!A1"),
        lambda d: d.batch_write_ranges("sht", {}),
        lambda d: d.batch_write_ranges("sht", {"s1!A1": [[1]], "s1!Z1:Y1": [[1]]}),
    ],
)
async def test_bad_input_is_rejected_before_any_request(
    docs: DocClient, fake: FakeLark, call: Callable[[DocClient], Awaitable[object]]
) -> None:
    with pytest.raises(ConfigError):
        await call(docs)
    assert fake.requests == []


def test_parse_range() -> None:
    assert parse_range("s1!A1:C10") == CellRange(
        sheet_id="s1", first_col=1, first_row=1, last_col=3, last_row=10
    )
    assert parse_range("s1!AA2:AB") == CellRange(
        sheet_id="s1", first_col=27, first_row=2, last_col=28, last_row=0
    )
    assert not parse_range("s1").has_cells
