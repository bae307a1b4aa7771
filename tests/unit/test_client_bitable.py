"""BitableMixin (through DocClient) against the fake Lark server."""

from __future__ import annotations

import uuid

import pytest

from lark_service.application import CredentialPool
from lark_service.application.clients.docs import DocClient
from lark_service.domain.batch import BatchPartialError
from lark_service.domain.errors import (
    BadRequestError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    TokenInvalidError,
)
from lark_service.domain.models.bitable import Condition, Filter, Sort
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark import bitable as fb
from lark_service.testing.fake_lark.models import RecordedRequest

pytestmark = pytest.mark.anyio

APP = "bascnFakeApp"
B = f"/open-apis/bitable/v1/apps/{APP}"
FIELDS = {"Name": 1, "Age": 2, "City": 1}


@pytest.fixture
def table(fake: FakeLark) -> str:
    return fb.add_table(fake, APP, "People", FIELDS, table_id="tblPeople")


@pytest.fixture
def docs(pool: CredentialPool) -> DocClient:
    return DocClient(pool)


def people() -> list[dict[str, object]]:
    return [
        {"Name": "Ann", "Age": 31, "City": "Oslo"},
        {"Name": "Bob", "Age": 25, "City": "Rome"},
        {"Name": "Cid", "Age": 40, "City": "Oslo"},
        {"Name": "Dee", "Age": 25},
    ]


def api(fake: FakeLark) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path.startswith("/open-apis/bitable/")]


def tenant_bearer(fake: FakeLark) -> None:
    for r in api(fake):
        if True:
            assert r.headers["authorization"].startswith("Bearer t-")
            assert r.token_info is not None and r.token_info.kind == "tenant"


async def test_tables_and_fields(fake: FakeLark, docs: DocClient, table: str) -> None:
    fb.add_table(fake, APP, "Other", {"X": 1}, table_id="tblOther")
    page = await docs.list_tables(APP, page_size=1)
    assert [t.table_id for t in page.items] == ["tblPeople"] and page.has_more
    assert [t.name async for t in docs.iter_tables(APP)] == ["People", "Other"]
    req = api(fake)[0]
    assert (req.method, req.path, dict(req.query)) == ("GET", f"{B}/tables", {"page_size": "1"})
    fields = await docs.list_fields(APP, table)
    assert [(f.field_name, f.type, f.is_primary) for f in fields.items] == [
        ("Name", 1, True),
        ("Age", 2, False),
        ("City", 1, False),
    ]
    assert [f.field_name async for f in docs.iter_fields(APP, table)] == list(FIELDS)
    assert api(fake)[-1].path == f"{B}/tables/{table}/fields"
    tenant_bearer(fake)


async def test_iter_records_2500_over_pages_once_in_order(
    fake: FakeLark, docs: DocClient, table: str
) -> None:
    ids = fb.add_records(fake, APP, table, [{"Name": f"n{i}", "Age": i} for i in range(2500)])
    got = [r async for r in docs.iter_records(APP, table, field_names=["Name", "Age"])]
    assert [r.record_id for r in got] == ids
    assert [r.fields["Age"] for r in got] == list(range(2500))
    reqs = [r for r in fake.requests if r.path.endswith("/records")]
    assert len(reqs) == 5
    assert all(dict(r.query)["page_size"] == "500" for r in reqs)
    assert dict(reqs[0].query)["field_names"] == '["Name","Age"]'
    assert "page_token" not in dict(reqs[0].query) and dict(reqs[1].query)["page_token"]
    page = await docs.list_records(APP, table, page_size=10, view_id="vew1", filter="1=1")
    assert page.total == 2500 and page.has_more and len(page.items) == 10
    assert dict(api(fake)[-1].query)["view_id"] == "vew1"
    tenant_bearer(fake)


async def test_search_records_filter_sort_and_pages(
    fake: FakeLark, docs: DocClient, table: str
) -> None:
    fb.add_records(fake, APP, table, people())
    flt = Filter.all(Condition.of("City", "is", "Oslo"), Condition.of("Age", "isGreater", 30))
    page = await docs.search_records(
        APP, table, filter=flt, sort=[Sort(field_name="Age", desc=True)]
    )
    assert [r.fields["Name"] for r in page.items] == ["Cid", "Ann"] and page.total == 2
    req = api(fake)[-1]
    assert (req.method, req.path) == ("POST", f"{B}/tables/{table}/records/search")
    assert dict(req.query) == {"page_size": "500"}
    assert req.json() == {
        "automatic_fields": False,
        "filter": {
            "conjunction": "and",
            "conditions": [
                {"field_name": "City", "operator": "is", "value": ["Oslo"]},
                {"field_name": "Age", "operator": "isGreater", "value": ["30"]},
            ],
        },
        "sort": [{"field_name": "Age", "desc": True}],
    }
    empty = Filter.any(Condition(field_name="City", operator="isEmpty"))
    names = [r.fields["Name"] async for r in docs.iter_search_records(APP, table, filter=empty)]
    assert names == ["Dee"]
    raw = {
        "conjunction": "or",
        "conditions": [{"field_name": "Name", "operator": "contains", "value": ["e"]}],
    }
    names = [
        r.fields["Name"]
        async for r in docs.iter_search_records(
            APP, table, filter=raw, page_size=1, sort=[Sort(field_name="Name")]
        )
    ]
    assert names == ["Dee"]
    lt = Filter.all(Condition.of("Age", "isLessEqual", 25), Condition.of("Name", "isNot", "Bob"))
    page = await docs.search_records(APP, table, filter=lt, field_names=["Name"])
    assert [r.fields for r in page.items] == [{"Name": "Dee"}]


async def test_bad_filter_operator_and_input_caught_before_any_request(
    fake: FakeLark, docs: DocClient, table: str
) -> None:
    with pytest.raises(ConfigError, match="operator"):
        Condition.of("Age", "greaterThan", 1)
    with pytest.raises(ConfigError):
        await docs.search_records(APP, table, filter={"conjunction": "xor", "conditions": []})
    with pytest.raises(ConfigError, match="needs a value"):
        Condition(field_name="Age", operator="is")
    with pytest.raises(ConfigError, match="page_size"):
        await docs.list_records(APP, table, page_size=501)
    with pytest.raises(ConfigError):
        await docs.get_record(APP, table, "")
    with pytest.raises(ConfigError):
        await docs.create_record(APP, "", {"Name": "x"})
    with pytest.raises(ConfigError):
        await docs.batch_create_records(APP, table, [])
    with pytest.raises(ConfigError):
        await docs.batch_get_records(APP, table, [f"rec{i}" for i in range(101)])
    with pytest.raises(ConfigError, match="user_id_type"):
        await docs.list_records(APP, table, user_id_type="email")
    assert fake.requests == []


async def test_record_crud(fake: FakeLark, docs: DocClient, table: str) -> None:
    rec = await docs.create_record(APP, table, {"Name": "Eve", "Age": 22})
    req = api(fake)[-1]
    assert (req.method, req.path) == ("POST", f"{B}/tables/{table}/records")
    assert uuid.UUID(dict(req.query)["client_token"]) and req.json() == {
        "fields": {"Name": "Eve", "Age": 22}
    }
    assert rec.record_id.startswith("rec") and rec.fields == {"Name": "Eve", "Age": 22}
    got = await docs.get_record(APP, table, rec.record_id)
    assert got.fields["Name"] == "Eve" and got.created_time > 0
    upd = await docs.update_record(APP, table, rec.record_id, {"Age": 23})
    assert api(fake)[-1].method == "PUT" and upd.fields == {"Name": "Eve", "Age": 23}
    many = await docs.batch_get_records(APP, table, [rec.record_id, "recMissing"])
    assert api(fake)[-1].json() == {
        "record_ids": [rec.record_id, "recMissing"],
        "automatic_fields": False,
    }
    assert [r.record_id for r in many.records] == [rec.record_id]
    assert many.absent_record_ids == ["recMissing"]
    gone = await docs.delete_record(APP, table, rec.record_id)
    assert api(fake)[-1].method == "DELETE" and gone.deleted and gone.record_id == rec.record_id
    with pytest.raises(NotFoundError) as info:
        await docs.get_record(APP, table, rec.record_id)
    assert info.value.code == 1254043
    tenant_bearer(fake)


async def test_batch_create_1234_in_two_requests_in_order(
    fake: FakeLark, docs: DocClient, table: str
) -> None:
    rows = [{"Name": f"r{i}", "Age": i} for i in range(1234)]
    created = await docs.batch_create_records(APP, table, rows)
    reqs = [r for r in fake.requests if r.path.endswith("/batch_create")]
    assert [len(r.json()["records"]) for r in reqs] == [1000, 234]
    tokens = [dict(r.query)["client_token"] for r in reqs]
    assert len(set(tokens)) == 2 and all(uuid.UUID(t) for t in tokens)
    assert [r.fields["Age"] for r in created] == list(range(1234))
    assert [r["record_id"] for r in fb.records(fake, APP, table)] == [r.record_id for r in created]


async def test_batch_create_chunk_failing_midway_reports_partial(
    fake: FakeLark, docs: DocClient, table: str
) -> None:
    rows: list[dict[str, object]] = [{"Name": f"r{i}", "Age": i} for i in range(2500)]
    rows[1100] = {"Name": "bad", "Nope": 1}  # a field that does not exist: Lark's 1254045
    with pytest.raises(BatchPartialError) as info:
        await docs.batch_create_records(APP, table, rows)
    err = info.value
    assert [i for i, _ in err.succeeded] == list(range(1000))
    assert [r.fields["Age"] for _, r in err.succeeded] == list(range(1000))
    assert err.failed == list(range(1000, 2000)) and err.not_sent == list(range(2000, 2500))
    assert isinstance(err.error, BadRequestError) and err.error.code == 1254045 == err.code
    assert err.unwritten == list(range(1000, 2500))
    assert len([r for r in fake.requests if r.path.endswith("/batch_create")]) == 2
    assert len(fb.records(fake, APP, table)) == 1000


async def test_first_chunk_failure_is_the_plain_error(
    fake: FakeLark, docs: DocClient, table: str
) -> None:
    with pytest.raises(BadRequestError) as info:
        await docs.batch_create_records(APP, table, [{"Nope": 1}])
    assert info.value.code == 1254045 and not isinstance(info.value, BatchPartialError)


async def test_batch_update_and_delete_chunked(fake: FakeLark, docs: DocClient, table: str) -> None:
    ids = fb.add_records(fake, APP, table, [{"Name": f"r{i}", "Age": i} for i in range(1100)])
    updated = await docs.batch_update_records(APP, table, {rid: {"Age": -1} for rid in ids})
    reqs = [r for r in fake.requests if r.path.endswith("/batch_update")]
    assert [len(r.json()["records"]) for r in reqs] == [1000, 100]
    assert reqs[0].json()["records"][0] == {"record_id": ids[0], "fields": {"Age": -1}}
    assert [r.record_id for r in updated] == ids and {r.fields["Age"] for r in updated} == {-1}
    deleted = await docs.batch_delete_records(APP, table, ids)
    reqs = [r for r in fake.requests if r.path.endswith("/batch_delete")]
    assert [len(r.json()["records"]) for r in reqs] == [500, 500, 100]
    assert reqs[0].json()["records"][:2] == ids[:2]
    assert [d.record_id for d in deleted] == ids and all(d.deleted for d in deleted)
    assert fb.records(fake, APP, table) == []


async def test_fake_enforces_batch_cap_and_client_token(
    fake: FakeLark, docs: DocClient, table: str
) -> None:
    with pytest.raises(BadRequestError) as info:
        await docs._call(
            "POST",
            f"{B}/tables/{table}/records/batch_create",
            api="t",
            json={"records": [{"fields": {"Name": "x"}}] * 1001},
        )
    assert info.value.code == 1254104
    first = await docs.create_record(APP, table, {"Name": "once"}, client_token="ct-1")
    again = await docs.create_record(APP, table, {"Name": "once"}, client_token="ct-1")
    assert first.record_id == again.record_id and len(fb.records(fake, APP, table)) == 1


async def test_permission_denied_and_not_found(fake: FakeLark, docs: DocClient, table: str) -> None:
    fb.deny_app(fake, "cli_app0")
    with pytest.raises(PermissionDeniedError) as info:
        await docs.list_records(APP, table)
    assert info.value.code == 99991672 and info.value.app_id == "cli_app0"
    assert (await docs.list_records(APP, table, app_id="cli_app1")).items == []
    with pytest.raises(NotFoundError) as nf:
        await docs.list_records(APP, "tblNope", app_id="cli_app1")
    assert nf.value.code == 1254041
    with pytest.raises(NotFoundError) as nf:
        await docs.list_tables("bascnNope", app_id="cli_app1")
    assert nf.value.code == 1254040
    with pytest.raises(NotFoundError) as nf:
        await docs.update_record(APP, table, "recX", {"Name": "x"}, app_id="cli_app1")
    assert nf.value.code == 1254043


async def test_token_invalid_refreshes_once_then_fails(
    fake: FakeLark, docs: DocClient, table: str
) -> None:
    fake.inject_fault("token_invalid", path_prefix=B, count=1)
    assert (await docs.list_tables(APP)).items
    assert len([r for r in fake.requests if r.path == f"{B}/tables"]) == 2
    assert fake.token_requests("cli_app0") == 2  # dropped and fetched again
    fake.inject_fault("token_invalid", path_prefix=B, count=2)
    with pytest.raises(TokenInvalidError):
        await docs.get_record(APP, table, "recX")
