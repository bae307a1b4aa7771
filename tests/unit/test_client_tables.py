"""WorkspaceTableClient (aPaaS, user tokens only) against the fake Lark server."""

from __future__ import annotations

import pytest

from lark_service.application import CredentialPool
from lark_service.application.clients.tables import WorkspaceTableClient
from lark_service.domain import UserToken
from lark_service.domain.errors import (
    BadRequestError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    TokenInvalidError,
    UserNotAuthorizedError,
)
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark import apaas as fa
from lark_service.testing.fake_lark.models import RecordedRequest

pytestmark = pytest.mark.anyio

WS = "ws_demo"
W = f"/open-apis/apaas/v1/workspaces/{WS}"
USER = "ou_alice"
COLS = {"name": "text", "age": "bigint", "email": "text"}
ROWS = [
    {"name": "Ann", "age": 31, "email": "ann@x"},
    {"name": "Bob", "age": 25, "email": "bob@x"},
    {"name": "Cid", "age": 40, "email": "cid@x"},
]


@pytest.fixture
async def tables(fake: FakeLark, pool: CredentialPool) -> WorkspaceTableClient:
    fa.add_table(fake, WS, "people", COLS, unique=("email",), rows=[dict(r) for r in ROWS])
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


def api(fake: FakeLark) -> list[RecordedRequest]:
    reqs = [r for r in fake.requests if r.path.startswith("/open-apis/apaas/")]
    for r in reqs:
        assert r.headers["authorization"].startswith("Bearer u-")
        assert r.token_info is not None and r.token_info.user_id == USER
    return reqs


async def test_list_and_get_tables(fake: FakeLark, tables: WorkspaceTableClient) -> None:
    fa.add_table(fake, WS, "other", {"x": "text"})
    page = await tables.list_tables(WS, user_id=USER, page_size=1)
    assert [t.name for t in page.items] == ["people"] and page.has_more
    assert [t.name async for t in tables.iter_tables(WS, user_id=USER)] == ["people", "other"]
    req = api(fake)[0]
    assert (req.method, req.path, dict(req.query)) == ("GET", f"{W}/tables", {"page_size": "1"})
    table = await tables.get_table(WS, "people", user_id=USER)
    assert api(fake)[-1].path == f"{W}/tables/people"
    assert table.primary_key == ["_id"]
    assert [(c.name, c.data_type) for c in table.columns][1:] == list(COLS.items())


async def test_query_records_decodes_items_string(
    fake: FakeLark, tables: WorkspaceTableClient
) -> None:
    page = await tables.query_records(
        WS, "people", user_id=USER, select=["name", "age"], filter="age=gt.30", order="age.desc"
    )
    assert page.items == [{"name": "Cid", "age": 40}, {"name": "Ann", "age": 31}]
    assert page.total == 2 and not page.has_more
    req = api(fake)[-1]
    assert (req.method, req.path) == ("GET", f"{W}/tables/people/records")
    assert dict(req.query) == {
        "page_size": "500",
        "select": "name,age",
        "filter": "age=gt.30",
        "order": "age.desc",
    }
    names = [r["name"] async for r in tables.iter_records(WS, "people", user_id=USER, page_size=1)]
    assert names == ["Ann", "Bob", "Cid"] and len(api(fake)) == 4


async def test_writes(fake: FakeLark, tables: WorkspaceTableClient) -> None:
    ids = await tables.insert_records(
        WS, "people", [{"name": "Dee", "age": 19, "email": "dee@x"}], user_id=USER
    )
    req = api(fake)[-1]
    assert (req.method, req.path) == ("POST", f"{W}/tables/people/records")
    assert req.json() == {"records": '[{"name":"Dee","age":19,"email":"dee@x"}]'}
    assert ids == ["4"]
    ids = await tables.upsert_records(
        WS, "people", [{"name": "Ann B", "email": "ann@x"}], user_id=USER, on_conflict=["email"]
    )
    assert dict(api(fake)[-1].query) == {"on_conflict": "email"} and ids == ["1"]
    ids = await tables.update_records(WS, "people", {"age": 26}, filter="name=eq.Bob", user_id=USER)
    req = api(fake)[-1]
    assert (req.method, dict(req.query), req.json()) == (
        "PATCH",
        {"filter": "name=eq.Bob"},
        {"record": '{"age":26}'},
    )
    assert ids == ["2"]
    ids = await tables.batch_update_records(
        WS, "people", [{"_id": 3, "age": 41}, {"_id": 4, "age": 20}], user_id=USER
    )
    req = api(fake)[-1]
    assert (req.method, req.path) == ("PATCH", f"{W}/tables/people/records_batch_update")
    assert ids == ["3", "4"]
    await tables.delete_records(WS, "people", filter="age=in.(20,41)", user_id=USER)
    req = api(fake)[-1]
    assert (req.method, dict(req.query)) == ("DELETE", {"filter": "age=in.(20,41)"})
    assert [(r["name"], r["age"]) for r in fa.rows(fake, WS, "people")] == [
        ("Ann B", 31),
        ("Bob", 26),
    ]


async def test_execute_sql_hostile_value_arrives_as_data(
    fake: FakeLark, tables: WorkspaceTableClient
) -> None:
    hostile = "O'Brien'); DROP TABLE people; -- \\' %s ’ /*"
    res = await tables.execute_sql(
        WS,
        "INSERT INTO people (name, age, email) VALUES (%s, %s, %s)",
        [hostile, 50, "evil@x"],
        user_id=USER,
    )
    req = api(fake)[-1]
    assert (req.method, req.path) == ("POST", f"{W}/sql_commands")
    sent = req.json()["sql"]
    statements, literals = fa.split_sql(sent)
    assert len(statements) == 1 and hostile in literals
    assert res.result == ""
    assert fa.rows(fake, WS, "people")[-1]["name"] == hostile  # the table was not dropped
    got = await tables.execute_sql(
        WS, "SELECT name FROM people WHERE name = %(n)s", {"n": hostile}, user_id=USER
    )
    assert got.json() == [{"name": hostile}]


async def test_fake_refuses_two_statements(fake: FakeLark, tables: WorkspaceTableClient) -> None:
    with pytest.raises(BadRequestError, match="exactly one"):
        await tables.execute_sql(WS, "DELETE FROM people; DELETE FROM people", user_id=USER)
    assert len(fa.rows(fake, WS, "people")) == 3


async def test_unauthorized_user_is_a_clear_error(
    fake: FakeLark, tables: WorkspaceTableClient
) -> None:
    with pytest.raises(UserNotAuthorizedError, match="has not authorized"):
        await tables.list_tables(WS, user_id="ou_nobody")
    assert api(fake) == []


async def test_tenant_token_is_refused_by_the_fake(
    fake: FakeLark, tables: WorkspaceTableClient
) -> None:
    with pytest.raises(TokenInvalidError) as info:
        await tables._call("GET", f"{W}/tables", api="t")  # tenant token
    assert info.value.code == 99991668


async def test_errors(fake: FakeLark, tables: WorkspaceTableClient) -> None:
    with pytest.raises(NotFoundError):
        await tables.get_table(WS, "nope", user_id=USER)
    with pytest.raises(BadRequestError) as info:
        await tables.query_records(WS, "people", user_id=USER, filter="ghost=eq.1")
    assert info.value.code == 99992402
    fa.deny_app(fake, "cli_app0")
    with pytest.raises(PermissionDeniedError) as denied:
        await tables.list_tables(WS, user_id=USER)
    assert denied.value.code == 99991672


async def test_token_invalid_refreshes_user_token_once(
    fake: FakeLark, tables: WorkspaceTableClient
) -> None:
    fake.inject_fault("token_invalid", path_prefix=W, count=1)
    assert (await tables.get_table(WS, "people", user_id=USER)).name == "people"
    first, second = [r for r in fake.requests if r.path == f"{W}/tables/people"]
    assert first.headers["authorization"] != second.headers["authorization"]  # refreshed
    fake.inject_fault("token_invalid", path_prefix=W, count=2)
    with pytest.raises(TokenInvalidError):
        await tables.get_table(WS, "people", user_id=USER)


async def test_bad_input_before_any_request(fake: FakeLark, tables: WorkspaceTableClient) -> None:
    with pytest.raises(ConfigError):
        await tables.delete_records(WS, "people", filter="", user_id=USER)
    with pytest.raises(ConfigError):
        await tables.insert_records(WS, "people", [], user_id=USER)
    with pytest.raises(ConfigError):  # more than 500 rows are chunked, but each is checked first
        await tables.insert_records(WS, "people", [{"a": 1}] * 501 + [{}], user_id=USER)
    with pytest.raises(ConfigError):
        await tables.upsert_records(WS, "people", [{"a": 1}], user_id=USER, on_conflict=[])
    with pytest.raises(ConfigError):
        await tables.query_records(WS, "people", user_id=USER, page_size=0)
    with pytest.raises(ConfigError):
        await tables.get_table("", "people", user_id=USER)
    with pytest.raises(ConfigError):
        await tables.execute_sql(WS, "SELECT %s", [], user_id=USER)
    with pytest.raises(ConfigError):
        await tables.execute_sql(WS, "SELECT %s", ["a\x00b"], user_id=USER)
    assert fake.requests == []
