"""Issue 7 item 6: aPaaS ``insert_records`` chunks like Bitable; filters built with
`tables_filter` quote values, so a value holding ``&`` or ``,`` stays one value."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lark_service.application import CredentialPool
from lark_service.application.clients.tables import WRITE_MAX, WorkspaceTableClient
from lark_service.application.clients.tables_filter import Filter, eq, gt, in_, quote_value
from lark_service.domain import UserToken
from lark_service.domain.batch import BatchPartialError
from lark_service.domain.errors import ConfigError, ServerError
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark import apaas as fa

pytestmark = pytest.mark.anyio

WS = "ws_hardening"
USER = "ou_tables"
RECORDS = f"/open-apis/apaas/v1/workspaces/{WS}/tables/notes/records"


@pytest.fixture
async def tables(fake: FakeLark, pool: CredentialPool) -> WorkspaceTableClient:
    rows = [
        {"text": "salt & pepper", "qty": 1},
        {"text": "salt", "qty": 2},
        {"text": 'say "hi", (then) go', "qty": 3},
        {"text": "a\\b", "qty": 4},
    ]
    fa.add_table(fake, WS, "notes", {"text": "text", "qty": "bigint"}, rows=rows)
    issued = fake.issue_user_token("cli_app0", USER)
    await pool.save_user_token(
        UserToken(
            app_id="cli_app0",
            user_id=USER,
            access_token=issued["access_token"],
            refresh_token=issued["refresh_token"],
            expires_at=fake.now() + 7200,
        )
    )
    return WorkspaceTableClient(pool)


def inserts(fake: FakeLark) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path == RECORDS)


async def test_insert_over_500_rows_goes_in_chunks(
    fake: FakeLark, tables: WorkspaceTableClient
) -> None:
    rows = [{"text": f"row {i}", "qty": i} for i in range(2 * WRITE_MAX + 7)]
    ids = await tables.insert_records(WS, "notes", rows, user_id=USER)
    assert len(ids) == len(rows) and len(set(ids)) == len(rows)
    assert inserts(fake) == 3
    page = await tables.query_records(WS, "notes", user_id=USER, filter=gt("qty", 999))
    assert [r["qty"] for r in page.items] == list(range(1000, 1007))


async def test_insert_chunk_failing_midway_is_a_partial_error(
    fake: FakeLark, tables: WorkspaceTableClient
) -> None:
    rows = [{"text": f"row {i}", "qty": i} for i in range(WRITE_MAX + 3)]
    fake.inject_fault("5xx", path_prefix=RECORDS, count=10)
    with pytest.raises(ServerError):  # the first chunk failed: nothing written, not partial
        await tables.insert_records(WS, "notes", rows, user_id=USER)
    fake.clear_faults()
    with pytest.raises(ConfigError):  # a bad row in the second chunk: nothing is sent
        await tables.insert_records(WS, "notes", [*rows, {}], user_id=USER)
    assert inserts(fake) == 1
    with pytest.raises(BatchPartialError) as caught:  # Lark refuses the second chunk
        await tables.insert_records(WS, "notes", [*rows, {"nope": 1}], user_id=USER)
    assert len(caught.value.succeeded) == WRITE_MAX
    assert caught.value.failed == list(range(WRITE_MAX, WRITE_MAX + 4))
    assert caught.value.not_sent == []


@pytest.mark.parametrize(
    ("built", "want"),
    [
        (eq("text", "salt & pepper"), [1]),
        (eq("text", "salt"), [2]),
        (eq("text", 'say "hi", (then) go'), [3]),
        (eq("text", "a\\b"), [4]),
        (in_("text", ["salt & pepper", 'say "hi", (then) go']), [1, 3]),
        (eq("text", "salt & pepper") & gt("qty", 0), [1]),
        (eq("text", "salt&qty=gt.0"), []),
    ],
)
async def test_filter_builder_keeps_values_whole(
    tables: WorkspaceTableClient, built: Filter, want: list[int]
) -> None:
    page = await tables.query_records(WS, "notes", user_id=USER, filter=built, order="qty")
    assert [r["qty"] for r in page.items] == want


async def test_filter_builder_deletes_only_the_quoted_value(
    tables: WorkspaceTableClient,
) -> None:
    await tables.delete_records(WS, "notes", filter=eq("text", "salt & pepper"), user_id=USER)
    page = await tables.query_records(WS, "notes", user_id=USER, order="qty")
    assert [r["qty"] for r in page.items] == [2, 3, 4]


def test_filter_builder_refuses_what_it_cannot_quote() -> None:
    assert quote_value('a"b') == '"a\\"b"' and quote_value(3) == "3" and quote_value(True) == "true"
    refused: list[Callable[[], object]] = [
        lambda: eq("text; drop", "x"),
        lambda: eq("text", None),
        lambda: eq("text", float("nan")),
        lambda: in_("text", []),
        lambda: in_("text", "abc"),
        lambda: eq("text", "x") & "qty=gt.1",
        lambda: eq("text", "\ud800"),
    ]
    for bad in refused:
        with pytest.raises(ConfigError):
            bad()
