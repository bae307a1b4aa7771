"""ContactClient against the fake Lark server: wire format, typed results, errors, cache."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from lark_service.adapters.memory import InMemoryMetrics, ManualClock
from lark_service.application import CredentialPool
from lark_service.application.clients.contact import ContactClient
from lark_service.domain.errors import (
    BadRequestError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    TokenInvalidError,
)
from lark_service.domain.models.contact import Chat, Department, User
from lark_service.entrypoints.embed import open_pool
from lark_service.testing import InProcessLarkTransport, RecordedRequest
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark.contact import (
    add_chat,
    add_department,
    add_user,
    add_users,
    deny_scope,
    directory,
    hide_fields,
)
from tests.conftest import FAST_RETRY, make_apps

pytestmark = pytest.mark.anyio

CONTACT = "/open-apis/contact/v3"


def calls(fake: FakeLark, prefix: str = "/open-apis/") -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path.startswith(prefix) and "/auth/" not in r.path]


def only_call(fake: FakeLark, prefix: str = "/open-apis/") -> RecordedRequest:
    found = calls(fake, prefix)
    assert len(found) == 1, [r.path for r in found]
    return found[0]


def assert_tenant_token(req: RecordedRequest) -> None:
    assert req.headers["authorization"].startswith("Bearer t-")
    assert req.token_info is not None
    assert req.token_info.kind == "tenant" and req.token_info.app_id == "cli_app0"


def first_user(fake: FakeLark, app_id: str = "cli_app0") -> dict[str, Any]:
    return next(iter(directory(fake, app_id).users.values()))


# users ----------------------------------------------------------------------------------
async def test_get_user_wire_and_result(pool: CredentialPool, fake: FakeLark) -> None:
    user = first_user(fake)
    got = await ContactClient(pool).get_user(user["open_id"])
    req = only_call(fake)
    assert (req.method, req.path) == ("GET", f"{CONTACT}/users/{user['open_id']}")
    assert req.query == [("user_id_type", "open_id"), ("department_id_type", "open_department_id")]
    assert req.body == b""
    assert_tenant_token(req)
    assert isinstance(got, User)
    assert (got.open_id, got.union_id, got.user_id) == (
        user["open_id"],
        user["union_id"],
        user["user_id"],
    )
    assert got.open_id.startswith("ou_") and got.union_id.startswith("on_")
    assert got.name == user["name"] and got.email == user["email"]
    assert got.status is not None and got.status.is_activated and not got.status.is_resigned
    assert got.avatar is not None and got.avatar.avatar_72.endswith("avatar_72.png")
    assert got.department_ids == ["0"]


async def test_get_user_other_id_types(pool: CredentialPool, fake: FakeLark) -> None:
    dept = add_department(fake, "cli_app0", name="Ops")
    user = add_user(fake, "cli_app0", dept["open_department_id"], name="Ann")
    contacts = ContactClient(pool)
    by_union = await contacts.get_user(user["union_id"], user_id_type="union_id")
    by_uid = await contacts.get_user(
        user["user_id"], user_id_type="user_id", department_id_type="department_id"
    )
    assert by_union.name == by_uid.name == "Ann"
    assert by_union.department_ids == [dept["open_department_id"]]
    assert by_uid.department_ids == [dept["department_id"]]
    assert calls(fake)[1].query == [
        ("user_id_type", "user_id"),
        ("department_id_type", "department_id"),
    ]


async def test_get_user_not_found_and_hidden_fields(pool: CredentialPool, fake: FakeLark) -> None:
    contacts = ContactClient(pool)
    with pytest.raises(NotFoundError) as info:
        await contacts.get_user("ou_nobody")
    assert info.value.code == 41050 and info.value.api == "contact.user.get"
    assert info.value.app_id == "cli_app0" and info.value.log_id
    hide_fields(fake, "cli_app0", "email", "mobile")
    got = await contacts.get_user(first_user(fake)["open_id"])
    assert got.email == "" and got.mobile == "" and got.name


async def test_batch_get_users_chunks_and_keeps_input_order(
    pool: CredentialPool, fake: FakeLark
) -> None:
    add_users(fake, "cli_app0", "0", 110)
    ids = list(directory(fake, "cli_app0").users)
    random.Random(7).shuffle(ids)
    wanted = [*ids[:60], "ou_unknown", ids[0], *ids[60:110]]
    got = await ContactClient(pool).batch_get_users(wanted)
    assert [u.open_id for u in got] == [i for i in wanted if i != "ou_unknown"]
    reqs = calls(fake)
    assert [r.path for r in reqs] == [f"{CONTACT}/users/batch"] * 3
    sent = [[v for k, v in r.query if k == "user_ids"] for r in reqs]
    assert [len(s) for s in sent] == [50, 50, 11]  # duplicates are asked once
    assert ("user_id_type", "open_id") in reqs[0].query
    assert_tenant_token(reqs[0])
    assert await ContactClient(pool).batch_get_users([]) == []
    assert len(calls(fake)) == 3


async def test_batch_get_user_ids_chunks(pool: CredentialPool, fake: FakeLark) -> None:
    add_users(fake, "cli_app0", "0", 60)
    users = list(directory(fake, "cli_app0").users.values())
    emails = [u["email"] for u in users[:55]] + ["ghost@example.com"]
    mobiles = [users[0]["mobile"], "+10000"]
    got = await ContactClient(pool).batch_get_user_ids(
        emails=emails, mobiles=mobiles, user_id_type="union_id"
    )
    reqs = calls(fake)
    assert [(r.method, r.path) for r in reqs] == [("POST", f"{CONTACT}/users/batch_get_id")] * 2
    assert reqs[0].query == [("user_id_type", "union_id")]
    assert reqs[0].headers["content-type"].startswith("application/json")
    assert reqs[0].json() == {"include_resigned": False, "emails": emails[:50], "mobiles": mobiles}
    assert reqs[1].json() == {"include_resigned": False, "emails": emails[50:]}
    assert [e.email for e in got[:56]] == emails and [e.mobile for e in got[56:]] == mobiles
    assert got[0].user_id == users[0]["union_id"] and got[55].user_id == ""
    assert got[56].user_id == users[0]["union_id"] and got[57].user_id == ""
    assert got[0].status is not None and got[0].status.is_activated


async def test_get_user_by_email_and_mobile(pool: CredentialPool, fake: FakeLark) -> None:
    gone = add_user(fake, "cli_app0", email="gone@example.com", mobile="+861", resigned=True)
    user = first_user(fake)
    contacts = ContactClient(pool)
    found = await contacts.get_user_by_email(user["email"])
    assert found is not None and found.open_id == user["open_id"]
    reqs = calls(fake)
    assert [r.path for r in reqs] == [
        f"{CONTACT}/users/batch_get_id",
        f"{CONTACT}/users/{user['open_id']}",
    ]
    by_mobile = await contacts.get_user_by_mobile(user["mobile"], user_id_type="user_id")
    assert by_mobile is not None and by_mobile.user_id == user["user_id"]
    assert await contacts.get_user_by_email("nobody@example.com") is None
    assert await contacts.get_user_by_mobile("+861") is None
    resigned = await contacts.get_user_by_mobile("+861", include_resigned=True)
    assert resigned is not None and resigned.open_id == gone["open_id"]
    assert resigned.status is not None and resigned.status.is_resigned
    assert calls(fake)[-2].json()["include_resigned"] is True


# departments ----------------------------------------------------------------------------
async def test_get_department(pool: CredentialPool, fake: FakeLark) -> None:
    contacts = ContactClient(pool)
    root = await contacts.get_department("0")
    req = only_call(fake)
    assert (req.method, req.path) == ("GET", f"{CONTACT}/departments/0")
    assert req.query == [("department_id_type", "open_department_id"), ("user_id_type", "open_id")]
    assert_tenant_token(req)
    assert isinstance(root, Department) and root.open_department_id == "0"
    assert root.member_count == len(directory(fake, "cli_app0").users)
    dept = add_department(fake, "cli_app0", name="Legal")
    boss = add_user(fake, "cli_app0", dept["department_id"])
    dept["leader"] = boss["open_id"]
    got = await contacts.get_department(
        dept["department_id"], department_id_type="department_id", user_id_type="union_id"
    )
    assert got.name == "Legal" and got.open_department_id.startswith("od-")
    assert got.parent_department_id == "0" and got.member_count == 1
    assert got.leader_user_id == boss["union_id"]
    assert got.leaders[0].leader_type == 1 and got.leaders[0].leader_id == boss["union_id"]
    with pytest.raises(NotFoundError) as info:
        await contacts.get_department("od-missing")
    assert info.value.code == 40015


async def test_list_and_iter_child_departments(pool: CredentialPool, fake: FakeLark) -> None:
    contacts = ContactClient(pool)
    page = await contacts.list_child_departments("0", page_size=2)
    req = only_call(fake)
    assert req.path == f"{CONTACT}/departments/0/children"
    assert req.query == [
        ("department_id_type", "open_department_id"),
        ("user_id_type", "open_id"),
        ("fetch_child", "false"),
        ("page_size", "2"),
    ]
    assert [d.name for d in page.items] == ["Engineering", "Sales"]
    assert page.has_more and page.page_token
    rest = await contacts.list_child_departments("0", page_size=2, page_token=page.page_token)
    assert [d.name for d in rest.items] == ["Support"]
    assert not rest.has_more and rest.page_token is None
    assert ("page_token", page.page_token) in calls(fake)[1].query
    every = [d.name async for d in contacts.iter_child_departments("0", fetch_child=True)]
    assert every == ["Engineering", "Backend", "Frontend", "Sales", "Support"]
    assert ("fetch_child", "true") in calls(fake)[-1].query
    with pytest.raises(NotFoundError):
        await contacts.list_child_departments("od-missing")


async def test_iter_department_users_2500_in_order(pool: CredentialPool, fake: FakeLark) -> None:
    dept = add_department(fake, "cli_app0", name="Big")
    made = add_users(fake, "cli_app0", dept["open_department_id"], 2500)
    contacts = ContactClient(pool)
    got = [u.open_id async for u in contacts.iter_department_users(dept["open_department_id"])]
    assert got == [u["open_id"] for u in made]
    assert len(set(got)) == 2500
    reqs = calls(fake)
    assert len(reqs) == 50
    assert all(r.path == f"{CONTACT}/users/find_by_department" for r in reqs)
    assert ("department_id", dept["open_department_id"]) in reqs[0].query
    assert ("page_size", "50") in reqs[0].query
    assert not any(k == "page_token" for k, _ in reqs[0].query)
    assert len({dict(r.query).get("page_token") for r in reqs}) == 50


async def test_list_department_users_page(pool: CredentialPool, fake: FakeLark) -> None:
    add_users(fake, "cli_app0", "D0001", 3)  # Engineering by custom id
    add_user(fake, "cli_app0", "D0001", resigned=True)
    contacts = ContactClient(pool)
    page = await contacts.list_department_users(
        "D0001", page_size=4, department_id_type="department_id"
    )
    assert len(page.items) == 4 and page.has_more
    rest = await contacts.list_department_users(
        "D0001", page_size=4, page_token=page.page_token, department_id_type="department_id"
    )
    assert len(rest.items) == 1 and not rest.has_more and rest.page_token is None
    assert all("D0001" in u.department_ids for u in page.items + rest.items)
    with pytest.raises(NotFoundError) as info:
        await contacts.list_department_users("od-missing")
    assert info.value.code == 40015


# chats ----------------------------------------------------------------------------------
async def test_get_chat(pool: CredentialPool, fake: FakeLark) -> None:
    chat = add_chat(fake, "cli_app0", "oc_team", name="Team", description="d", members=4)
    contacts = ContactClient(pool)
    got = await contacts.get_chat("oc_team", user_id_type="union_id")
    req = only_call(fake)
    assert (req.method, req.path) == ("GET", "/open-apis/im/v1/chats/oc_team")
    assert req.query == [("user_id_type", "union_id")]
    assert_tenant_token(req)
    owner = directory(fake, "cli_app0").users[chat["owner"]]
    assert isinstance(got, Chat) and got.chat_id == "oc_team"
    assert (got.name, got.description, got.chat_mode, got.chat_type) == (
        "Team",
        "d",
        "group",
        "private",
    )
    assert got.owner_id == owner["union_id"] and got.owner_id_type == "union_id"
    assert got.user_count == "4" and got.tenant_key == "tenant_default"
    add_chat(fake, "cli_app0", "oc_outside", name="Outside", bot_in_chat=False)
    basic = await contacts.get_chat("oc_outside")
    assert basic.name == "Outside" and basic.owner_id == "" and basic.chat_mode == ""
    with pytest.raises(NotFoundError) as info:
        await contacts.get_chat("oc_missing")
    assert info.value.code == 232006 and info.value.api == "im.chat.get"


async def test_list_and_iter_chat_members(pool: CredentialPool, fake: FakeLark) -> None:
    add_chat(fake, "cli_app0", "oc_big", members=250)
    contacts = ContactClient(pool)
    page = await contacts.list_chat_members("oc_big", member_id_type="user_id", page_size=100)
    req = only_call(fake)
    assert req.path == "/open-apis/im/v1/chats/oc_big/members"
    assert req.query == [("member_id_type", "user_id"), ("page_size", "100")]
    assert_tenant_token(req)
    assert len(page.items) == 100 and page.has_more and page.member_total == 250
    first = page.items[0]
    assert first.member_id_type == "user_id" and first.tenant_key == "tenant_default"
    assert first.member_id == next(iter(directory(fake, "cli_app0").users.values()))["user_id"]
    members = [m.member_id async for m in contacts.iter_chat_members("oc_big")]
    assert members == list(directory(fake, "cli_app0").users)[:250]
    assert len(calls(fake)) == 4
    add_chat(fake, "cli_app0", "oc_outside", bot_in_chat=False)
    with pytest.raises(PermissionDeniedError) as info:
        await contacts.list_chat_members("oc_outside")
    assert info.value.code == 232011


# errors ---------------------------------------------------------------------------------
async def test_permission_denied_per_app_and_family(pool: CredentialPool, fake: FakeLark) -> None:
    add_chat(fake, "cli_app0", "oc_x")
    contacts = ContactClient(pool)
    deny_scope(fake, "cli_app0", "contact")
    with pytest.raises(PermissionDeniedError) as info:
        await contacts.get_department("0")
    assert info.value.code == 99991672
    with pytest.raises(PermissionDeniedError):
        [u async for u in contacts.iter_department_users("0")]
    assert (await contacts.get_chat("oc_x")).name  # "im" still allowed
    assert (await contacts.get_department("0", app_id="cli_app1")).open_department_id == "0"
    deny_scope(fake, "cli_app0", "im")
    with pytest.raises(PermissionDeniedError):
        await contacts.list_chat_members("oc_x")


async def test_token_invalid_refreshes_once_then_fails(
    pool: CredentialPool, fake: FakeLark
) -> None:
    contacts = ContactClient(pool)
    user = first_user(fake)
    await contacts.get_department("0")  # a token is cached now
    fake.inject_fault("token_invalid", path_prefix=f"{CONTACT}/users", count=1)
    before = fake.token_requests("cli_app0")
    assert (await contacts.get_user(user["open_id"])).open_id == user["open_id"]
    assert len(calls(fake, f"{CONTACT}/users")) == 2
    assert fake.token_requests("cli_app0") == before + 1  # dropped and fetched again
    fake.inject_fault("token_invalid", path_prefix="/open-apis/im/v1/chats", count=2)
    with pytest.raises(TokenInvalidError):
        await contacts.get_chat("oc_any")


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_user(""),
        lambda c: c.get_user("ou_a/b"),
        lambda c: c.get_user("ou_a", user_id_type="email"),
        lambda c: c.get_user("ou_a", department_id_type="od"),
        lambda c: c.batch_get_users("ou_a"),
        lambda c: c.batch_get_users(["ou_a", ""]),
        lambda c: c.batch_get_user_ids(emails=[""]),
        lambda c: c.batch_get_user_ids(emails="a@b.c"),
        lambda c: c.get_user_by_email(""),
        lambda c: c.get_department("od x"),
        lambda c: c.list_child_departments("0", page_size=51),
        lambda c: c.list_department_users("0", page_size=0),
        lambda c: c.get_chat("oc_?"),
        lambda c: c.list_chat_members("oc_a", page_size=101),
        lambda c: c.list_chat_members("oc_a", member_id_type="chat_id"),
    ],
)
async def test_bad_input_rejected_before_any_request(
    pool: CredentialPool, fake: FakeLark, call: Callable[[ContactClient], Awaitable[object]]
) -> None:
    with pytest.raises(ConfigError):
        await call(ContactClient(pool))
    assert fake.requests == []


@pytest.mark.parametrize(
    "make",
    [
        lambda c: c.iter_department_users("", page_size=10),
        lambda c: c.iter_department_users("0", page_size=51),
        lambda c: c.iter_child_departments("0", user_id_type="x"),
        lambda c: c.iter_chat_members("oc_a", page_size=0),
    ],
)
async def test_bad_input_of_iterators_raises_at_call(
    pool: CredentialPool, fake: FakeLark, make: Callable[[ContactClient], AsyncIterator[object]]
) -> None:
    with pytest.raises(ConfigError):
        make(ContactClient(pool))
    assert fake.requests == []


async def test_fake_enforces_lark_limits_on_raw_requests(
    pool: CredentialPool, fake: FakeLark
) -> None:
    contacts = ContactClient(pool)
    with pytest.raises(BadRequestError) as info:
        await contacts._call(
            "GET",
            f"{CONTACT}/users/find_by_department",
            api="raw",
            query={"department_id": "0", "page_size": 51},
        )
    assert info.value.code == 40011
    with pytest.raises(BadRequestError) as info:
        await contacts._call(
            "GET", f"{CONTACT}/users/batch", api="raw", query={"user_ids": ["x"] * 51}
        )
    assert info.value.code == 99992402
    with pytest.raises(BadRequestError) as info:
        await contacts._call(
            "GET", f"{CONTACT}/users/x", api="raw", query={"user_id_type": "email"}
        )
    assert info.value.code == 99992402


# cache ----------------------------------------------------------------------------------
async def test_cache_ttl_per_app(fake: FakeLark) -> None:
    clock = ManualClock()
    async with open_pool(
        apps=make_apps(fake, 2),
        transport=InProcessLarkTransport(fake),
        default_app_id="cli_app0",
        clock=clock,
        metrics=InMemoryMetrics(),
        retry=FAST_RETRY,
    ) as pool:
        contacts = ContactClient(pool, cache_ttl=300.0)
        user = first_user(fake)
        add_chat(fake, "cli_app0", "oc_c")
        a = await contacts.get_user(user["open_id"])
        b = await contacts.get_user(user["open_id"])
        await contacts.get_department("0")
        await contacts.get_department("0")
        await contacts.get_chat("oc_c")
        await contacts.get_chat("oc_c")
        assert a == b and len(calls(fake)) == 3
        # the same id as another app: never served from app0's entry
        with pytest.raises(NotFoundError):
            await contacts.get_user(user["open_id"], app_id="cli_app1")
        other_root = await contacts.get_department("0", app_id="cli_app1")
        assert other_root.name == "tenant_default" and len(calls(fake)) == 5
        # other id types are other entries
        await contacts.get_user(user["union_id"], user_id_type="union_id")
        assert len(calls(fake)) == 6
        clock.advance(299)
        await contacts.get_user(user["open_id"])
        assert len(calls(fake)) == 6
        clock.advance(2)
        await contacts.get_user(user["open_id"])
        assert len(calls(fake)) == 7
        contacts.invalidate_cache()
        await contacts.get_chat("oc_c")
        assert len(calls(fake)) == 8
        uncached = ContactClient(pool)
        await uncached.get_chat("oc_c")
        await uncached.get_chat("oc_c")
        assert len(calls(fake)) == 10


async def test_cache_ttl_must_be_positive(pool: CredentialPool) -> None:
    for bad in (0, -1.0, True):
        with pytest.raises(ConfigError):
            ContactClient(pool, cache_ttl=bad)
