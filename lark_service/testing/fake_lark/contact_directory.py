"""The fake's contact directory: one per app, generated on first use, plus test helpers.

Each app gets a deterministic directory (ids derived from the app_id with sha256): root
department ``"0"`` with Engineering (children Backend, Frontend), Sales and Support, and two
users in each department (one in the root). Person number ``n`` has, per app,
``open_id = "ou_…"`` and ``union_id = "on_…"``, and tenant-wide ``user_id`` (8 hex chars),
``email = "user{n:04d}@example.com"`` and ``mobile = "+8613800{n:06d}"``, so the same
person has different open_ids in two apps, as in Lark. Departments have
``open_department_id = "od-…"`` and custom ``department_id = "D{n:04d}"``.

Helpers for tests (also importable from ``lark_service.testing.fake_lark.contact``):
``directory(fake, app_id)``, ``add_department(fake, app_id, parent_id="0", name=...)``,
``add_users(fake, app_id, department_id, n)``, ``add_user(...)``,
``add_chat(fake, app_id, chat_id=None, members=3, bot_in_chat=True, ...)``,
``deny_scope(fake, app_id, "contact"|"im")`` (the app then gets 99991672) and
``hide_fields(fake, app_id, "email", "mobile", "user_id")`` (as without the field scopes).
State lives in ``fake.state["contact"]`` and is dropped on ``fake.reset()``.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from lark_service.testing.fake_lark.server import FakeLark

STATE_KEY = "contact"
ROOT = "0"


def _h(*parts: object, n: int = 32) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:n]


@dataclass
class Directory:
    """One app's view of its tenant's contacts and chats (plain dicts, Lark's field names)."""

    app_id: str
    tenant_key: str
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)  # by open id
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # by open_id
    members: dict[str, list[str]] = field(default_factory=dict)  # dept open id -> open_ids
    chats: dict[str, dict[str, Any]] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)
    hidden: set[str] = field(default_factory=set)
    person_seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    dept_seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def find_user(self, user_id: str, id_type: str) -> dict[str, Any] | None:
        if id_type == "open_id":
            return self.users.get(user_id)
        return next((u for u in self.users.values() if u[id_type] == user_id), None)

    def find_department(self, dept_id: str, id_type: str) -> dict[str, Any] | None:
        if dept_id == ROOT:
            return self.departments[ROOT]
        if id_type == "open_department_id":
            return self.departments.get(dept_id)
        return next((d for d in self.departments.values() if d["department_id"] == dept_id), None)

    def children(self, open_dept_id: str, recursive: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for dept in self.departments.values():
            if dept["parent"] == open_dept_id and dept["open_department_id"] != ROOT:
                out.append(dept)
                if recursive:
                    out.extend(self.children(dept["open_department_id"], True))
        return out

    def member_count(self, open_dept_id: str) -> int:
        below = self.children(open_dept_id, True)
        return len(self.members[open_dept_id]) + sum(
            len(self.members[d["open_department_id"]]) for d in below
        )


def directory(fake: FakeLark, app_id: str) -> Directory:
    """The app's directory, generated on first use."""
    dirs: dict[str, Directory] = fake.state.setdefault(STATE_KEY, {})
    found = dirs.get(app_id)
    if found is None:
        app = fake.get_app(app_id)
        found = dirs[app_id] = Directory(app_id, app.tenant_keys[0])
        _generate(found)
    return found


def _generate(d: Directory) -> None:
    d.departments[ROOT] = {
        "open_department_id": ROOT,
        "department_id": ROOT,
        "name": d.tenant_key,
        "parent": "",
        "leader": "",
        "order": "0",
    }
    d.members[ROOT] = []
    _new_users(d, ROOT, 1)
    eng = _new_department(d, ROOT, "Engineering")
    for name in ("Backend", "Frontend"):
        _new_users(d, _new_department(d, eng["open_department_id"], name)["open_department_id"], 2)
    _new_users(d, eng["open_department_id"], 2)
    for name in ("Sales", "Support"):
        _new_users(d, _new_department(d, ROOT, name)["open_department_id"], 2)


def _new_department(d: Directory, parent: str, name: str) -> dict[str, Any]:
    n = next(d.dept_seq)
    dept = {
        "open_department_id": "od-" + _h(d.app_id, "dept", n),
        "department_id": f"D{n:04d}",
        "name": name,
        "parent": parent,
        "leader": "",
        "order": str(n * 100),
    }
    d.departments[dept["open_department_id"]] = dept
    d.members[dept["open_department_id"]] = []
    return dept


def _new_users(d: Directory, open_dept_id: str, count: int, **fields: Any) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        n = next(d.person_seq)
        user: dict[str, Any] = {
            "open_id": "ou_" + _h(d.app_id, "user", n),
            "union_id": "on_" + _h(d.app_id, "union", n),
            "user_id": _h(d.tenant_key, "uid", n, n=8),
            "name": f"User {n}",
            "en_name": f"User {n}",
            "email": f"user{n:04d}@example.com",
            "mobile": f"+8613800{n:06d}",
            "departments": [open_dept_id],
            "leader": "",
            "job_title": "Engineer",
            "employee_no": f"E{n:05d}",
            "city": "Hangzhou",
            "resigned": False,
            "join_time": 1_600_000_000 + n,
        }
        user.update(fields)
        d.users[user["open_id"]] = user
        d.members[open_dept_id].append(user["open_id"])
        out.append(user)
    return out


def _open_dept(d: Directory, department_id: str) -> str:
    dept = d.find_department(department_id, "open_department_id") or d.find_department(
        department_id, "department_id"
    )
    if dept is None:
        raise KeyError(f"fake_lark: app {d.app_id!r} has no department {department_id!r}")
    return str(dept["open_department_id"])


def add_department(
    fake: FakeLark, app_id: str, parent_id: str = ROOT, *, name: str = "Department"
) -> dict[str, Any]:
    """Add a department under ``parent_id`` (open or custom id, or "0"); return its record."""
    d = directory(fake, app_id)
    return _new_department(d, _open_dept(d, parent_id), name)


def add_users(fake: FakeLark, app_id: str, department_id: str, n: int) -> list[dict[str, Any]]:
    """Add ``n`` users to a department (open or custom id, or "0"), appended in order."""
    d = directory(fake, app_id)
    return _new_users(d, _open_dept(d, department_id), n)


def add_user(
    fake: FakeLark, app_id: str, department_id: str = ROOT, **fields: Any
) -> dict[str, Any]:
    """Add one user; ``fields`` override the generated ones (``name``, ``email``, ``mobile``,
    ``resigned=True``, ``leader=<open_id>``, ...)."""
    d = directory(fake, app_id)
    return _new_users(d, _open_dept(d, department_id), 1, **fields)[0]


def add_chat(
    fake: FakeLark,
    app_id: str,
    chat_id: str | None = None,
    *,
    name: str = "Fake chat",
    description: str = "",
    members: int | Sequence[str] = 3,
    owner_id: str | None = None,
    bot_in_chat: bool = True,
    chat_mode: str = "group",
    chat_type: str = "private",
) -> dict[str, Any]:
    """Add a chat visible to ``app_id``. ``members`` is a count (the directory's first users,
    more are generated in the root when needed) or a list of open_ids."""
    d = directory(fake, app_id)
    if isinstance(members, int):
        missing = members - len(d.users)
        if missing > 0:
            _new_users(d, ROOT, missing)
        member_ids = list(d.users)[:members]
    else:
        member_ids = list(members)
    chat_id = chat_id or "oc_" + _h(app_id, "chat", len(d.chats) + 1)
    chat = {
        "chat_id": chat_id,
        "name": name,
        "description": description,
        "owner": owner_id or (member_ids[0] if member_ids else ""),
        "members": member_ids,
        "bot_in_chat": bot_in_chat,
        "chat_mode": chat_mode,
        "chat_type": chat_type,
    }
    d.chats[chat_id] = chat
    return chat


def deny_scope(fake: FakeLark, app_id: str, family: str, denied: bool = True) -> None:
    """Make ``family`` ("contact" or "im") answer 99991672 for the app (or allow it again)."""
    d = directory(fake, app_id)
    if denied:
        d.denied.add(family)
    else:
        d.denied.discard(family)


def hide_fields(fake: FakeLark, app_id: str, *names: str) -> None:
    """Leave these user fields out of replies, as Lark does without their field scopes."""
    directory(fake, app_id).hidden.update(names)


def user_id_of(user: dict[str, Any], id_type: str) -> str:
    return str(user[id_type])


def user_view(
    d: Directory, user: dict[str, Any], user_id_type: str, dept_id_type: str
) -> dict[str, Any]:
    leader = d.users.get(user["leader"]) if user["leader"] else None
    view: dict[str, Any] = {
        "open_id": user["open_id"],
        "union_id": user["union_id"],
        "user_id": user["user_id"],
        "name": user["name"],
        "en_name": user["en_name"],
        "email": user["email"],
        "mobile": user["mobile"],
        "avatar": {
            size: f"https://fake-lark.invalid/avatar/{user['open_id']}/{size}.png"
            for size in ("avatar_72", "avatar_240", "avatar_640", "avatar_origin")
        },
        "status": {
            "is_frozen": False,
            "is_resigned": user["resigned"],
            "is_activated": not user["resigned"],
            "is_exited": False,
            "is_unjoin": False,
        },
        "department_ids": [d.departments[o][dept_id_type] for o in user["departments"]],
        "leader_user_id": user_id_of(leader, user_id_type) if leader else "",
        "city": user["city"],
        "join_time": user["join_time"],
        "employee_no": user["employee_no"],
        "employee_type": 1,
        "job_title": user["job_title"],
        "is_tenant_manager": False,
    }
    for name in d.hidden:
        view.pop(name, None)
    return view


def department_view(
    d: Directory, dept: dict[str, Any], dept_id_type: str, user_id_type: str
) -> dict[str, Any]:
    parent = d.departments.get(dept["parent"]) if dept["parent"] else None
    leader = d.users.get(dept["leader"]) if dept["leader"] else None
    return {
        "name": dept["name"],
        "i18n_name": {"zh_cn": dept["name"], "ja_jp": dept["name"], "en_us": dept["name"]},
        "parent_department_id": parent[dept_id_type] if parent else "",
        "department_id": dept["department_id"],
        "open_department_id": dept["open_department_id"],
        "leader_user_id": user_id_of(leader, user_id_type) if leader else "",
        "chat_id": "",
        "order": dept["order"],
        "unit_ids": [],
        "member_count": d.member_count(dept["open_department_id"]),
        "status": {"is_deleted": False},
        "leaders": [{"leaderType": 1, "leaderID": user_id_of(leader, user_id_type)}]
        if leader
        else [],
    }
