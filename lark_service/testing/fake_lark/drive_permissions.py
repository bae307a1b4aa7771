"""Fake drive v1 permission members: grant, list and revoke the collaborators of a doc.

Only ``full_access`` (the owner) may grant or revoke; ``view`` lists. Codes: 1063001
invalid parameter (400), 1063002 permission denied (403), 1063005 resource (or member) not
found (404). The accepted ``type`` and ``member_type`` values are `DocClient`'s own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lark_service.domain.models.docs import MEMBER_TYPES, PERMISSION_DOC_TYPES
from lark_service.testing.fake_lark.drive_state import (
    PERM_RANK,
    Node,
    check_scope,
    find_node,
    require_access,
)
from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest, TokenInfo

if TYPE_CHECKING:
    from lark_service.testing.fake_lark.server import FakeLark, HandlerResult


def register_permissions(fake: FakeLark) -> None:
    """Register the ``permissions/:token/members`` routes."""
    base = "/open-apis/drive/v1/permissions/{token}/members"

    def bad(msg: str) -> FakeLarkError:
        return FakeLarkError(400, 1063001, f"Invalid parameter: {msg}")

    def missing() -> FakeLarkError:
        return FakeLarkError(404, 1063005, "Resource not found")

    def target(req: FakeRequest, need: str) -> tuple[TokenInfo, Node]:
        info = fake.require_token(req)
        check_scope(fake, info, "drive")
        doc_type = req.query.get("type", "")
        if doc_type not in PERMISSION_DOC_TYPES:
            raise bad("type")
        node = find_node(fake, req.path_params["token"], missing())
        if node.type != doc_type:
            raise bad("type does not match the token")
        require_access(fake, info, node, need, FakeLarkError(403, 1063002, "Permission denied"))
        return info, node

    def member_view(key: tuple[str, str], perm: str) -> dict[str, Any]:
        kind = {"openchat": "chat", "opendepartmentid": "department", "groupid": "group"}
        return {
            "member_type": key[0],
            "member_id": key[1],
            "perm": perm,
            "perm_type": "container",
            "type": kind.get(key[0], "user"),
        }

    @fake.route("POST", base)
    async def grant(req: FakeRequest) -> HandlerResult:
        _, node = target(req, "full_access")
        body = req.json()
        member_type, member_id, perm = (body.get(k) for k in ("member_type", "member_id", "perm"))
        if member_type not in MEMBER_TYPES or perm not in PERM_RANK:
            raise bad("member_type or perm")
        if not isinstance(member_id, str) or not member_id:
            raise bad("member_id")
        node.members[(member_type, member_id)] = perm
        return {"member": member_view((member_type, member_id), perm)}

    @fake.route("GET", base)
    async def list_members(req: FakeRequest) -> HandlerResult:
        _, node = target(req, "view")
        return {"items": [member_view(k, p) for k, p in node.members.items()]}

    @fake.route("DELETE", base + "/{member_id}")
    async def revoke(req: FakeRequest) -> HandlerResult:
        _, node = target(req, "full_access")
        key = (req.query.get("member_type", ""), req.path_params["member_id"])
        if key[0] not in MEMBER_TYPES:
            raise bad("member_type")
        if node.members.pop(key, None) is None:
            raise missing()
        return {}
