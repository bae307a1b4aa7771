"""HTTP API: users, departments and chats; docx; Bitable records; aPaaS workspace tables."""

from __future__ import annotations

import pytest

from lark_service.application import CredentialPool
from lark_service.domain import UserToken
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark import apaas as fa
from lark_service.testing.fake_lark import bitable as fb
from lark_service.testing.fake_lark.contact_directory import add_chat, add_department, add_user

from .http_support import Api, api_fixture  # noqa: F401  (fixture)

pytestmark = pytest.mark.anyio
BASE = "bascnFakeApp"
RECORDS = f"/v1/bitable/apps/{BASE}/tables/tblPeople/records"


async def test_user_department_chat(api: Api, fake: FakeLark) -> None:
    dept = add_department(fake, "cli_app0", name="Ops")
    user = add_user(fake, "cli_app0", dept["open_department_id"], name="Ann")
    add_chat(fake, "cli_app0", "oc_team", name="Team")
    r = await api.client.get(f"/v1/users/{user['open_id']}", headers=api.read)
    assert r.status_code == 200 and r.json()["name"] == "Ann"
    r = await api.client.get(f"/v1/departments/{dept['open_department_id']}", headers=api.read)
    assert r.status_code == 200 and r.json()["name"] == "Ops"
    r = await api.client.get("/v1/chats/oc_team", headers=api.read)
    assert r.status_code == 200 and r.json()["name"] == "Team"
    r = await api.client.get("/v1/users/ou_nobody", headers=api.read)
    assert r.status_code == 404 and r.json()["error"] == "NotFoundError"
    assert r.json()["code"] and r.json()["log_id"]  # Lark's code and log id pass through
    r = await api.client.get("/v1/users/ou_x?user_id_type=nickname", headers=api.read)
    assert r.status_code == 422 and "user_id_type" in r.json()["detail"]


async def test_app_id_query_picks_the_app(api: Api, fake: FakeLark) -> None:
    add_chat(fake, "cli_app1", "oc_other", name="Other")
    r = await api.client.get("/v1/chats/oc_other?app_id=cli_app1", headers=api.read)
    assert r.status_code == 200 and r.json()["name"] == "Other"
    assert fake.requests[-1].token_info is not None
    assert fake.requests[-1].token_info.app_id == "cli_app1"
    r = await api.client.get("/v1/chats/oc_other?app_id=cli_gone", headers=api.read)
    assert r.status_code == 404 and r.json()["error"] == "UnknownAppError"


async def test_docx(api: Api) -> None:
    r = await api.client.post("/v1/docx/documents", json={"title": "Notes"}, headers=api.send)
    assert r.status_code == 201, r.text
    doc_id = r.json()["document_id"]
    r = await api.client.get(f"/v1/docx/documents/{doc_id}", headers=api.read)
    assert r.status_code == 200 and r.json()["title"] == "Notes"
    r = await api.client.get(f"/v1/docx/documents/{doc_id}/raw_content", headers=api.read)
    assert r.status_code == 200 and r.json()["document_id"] == doc_id
    assert isinstance(r.json()["content"], str)
    assert (
        await api.client.post("/v1/docx/documents", json={}, headers=api.read)
    ).status_code == 403


async def test_bitable_batch_create_list_search(api: Api, fake: FakeLark) -> None:
    fb.add_table(fake, BASE, "People", {"Name": 1, "Age": 2}, table_id="tblPeople")
    body = {
        "records": [{"fields": {"Name": "Ann", "Age": 31}}, {"fields": {"Name": "Bob", "Age": 25}}]
    }
    r = await api.client.post(f"{RECORDS}/batch_create", json=body, headers=api.send)
    assert r.status_code == 201, r.text
    assert [rec["fields"]["Name"] for rec in r.json()["records"]] == ["Ann", "Bob"]
    r = await api.client.get(f"{RECORDS}?page_size=1", headers=api.read)
    assert r.status_code == 200 and len(r.json()["items"]) == 1 and r.json()["has_more"]
    search = {
        "filter": {
            "conjunction": "and",
            "conditions": [{"field_name": "Age", "operator": "isGreater", "value": ["30"]}],
        }
    }
    r = await api.client.post(f"{RECORDS}/search", json=search, headers=api.read)
    assert r.status_code == 200, r.text
    assert [i["fields"]["Name"] for i in r.json()["items"]] == ["Ann"]
    empty = await api.client.post(f"{RECORDS}/batch_create", json={"records": []}, headers=api.send)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "records"
    r = await api.client.get(f"{RECORDS}?page_size=0", headers=api.read)
    assert r.status_code in (400, 422)


async def test_apaas_query(api: Api, fake: FakeLark, pool: CredentialPool) -> None:
    fa.add_table(
        fake,
        "ws_demo",
        "people",
        {"name": "text", "age": "bigint"},
        rows=[{"name": "Ann", "age": 31}, {"name": "Bob", "age": 25}],
    )
    issued = fake.issue_user_token("cli_app0", "ou_alice")
    await pool.save_user_token(
        UserToken(
            app_id="cli_app0",
            user_id="ou_alice",
            access_token=issued["access_token"],
            refresh_token=issued["refresh_token"],
            expires_at=fake.now() + 7200,
        )
    )
    path = "/v1/apaas/workspaces/ws_demo/tables/people/records"
    r = await api.client.get(
        f"{path}?user_id=ou_alice&select=name&filter=age=gt.30", headers=api.read
    )
    assert r.status_code == 200, r.text
    assert r.json()["items"] == [{"name": "Ann"}]
    r = await api.client.get(f"{path}?user_id=ou_bob", headers=api.read)
    assert r.status_code == 403 and r.json()["error"] == "UserAuthorizationRequired"
    r = await api.client.get(path, headers=api.read)
    assert r.status_code in (400, 422)  # user_id is required
