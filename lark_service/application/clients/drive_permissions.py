"""`DrivePermissionsMixin`: the permission members (collaborators) of any cloud doc, through
drive v1 ``permissions/:token/members``; part of `DriveMixin` and so of `DocClient`."""

from __future__ import annotations

import msgspec

from lark_service.application.clients.drive_calls import DRIVE_V1, CloudDocCalls
from lark_service.domain.models.docs import Member
from lark_service.domain.models.docs_checks import check_doc, check_member, check_perm
from lark_service.domain.models.ids import lark_path

_PERMS = f"{DRIVE_V1}/permissions"


class _MemberReply(msgspec.Struct):
    member: Member


class _Members(msgspec.Struct):
    items: list[Member] = []


class DrivePermissionsMixin(CloudDocCalls):
    """Grant, list and revoke the collaborators of a doc, sheet, file, folder, …"""

    async def grant_permission(
        self,
        token: str,
        *,
        doc_type: str,
        member_type: str,
        member_id: str,
        perm: str = "view",
        need_notification: bool = False,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Member:
        """Make ``member_id`` a collaborator of the doc ``token`` with ``perm``."""
        check_member(token, doc_type, member_type, member_id)
        check_perm(perm)
        reply = await self._fetch(
            _MemberReply,
            "POST",
            lark_path(_PERMS + "/{token}/members", token=token),
            "drive.permission.member.create",
            app_id,
            {"member_type": member_type, "member_id": member_id, "perm": perm},
            query={"type": doc_type, "need_notification": need_notification},
            rate_family="drive",
        )
        return reply.member

    async def list_permission_members(
        self, token: str, *, doc_type: str, app_id: str | None = None, timeout: float | None = None
    ) -> list[Member]:
        """The collaborators of the doc ``token``."""
        check_doc(token, doc_type)
        path, query = lark_path(_PERMS + "/{token}/members", token=token), {"type": doc_type}
        api = "drive.permission.member.list"
        reply = await self._fetch(
            _Members, "GET", path, api, app_id, query=query, rate_family="drive"
        )
        return reply.items

    async def revoke_permission(
        self,
        token: str,
        *,
        doc_type: str,
        member_type: str,
        member_id: str,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Remove a collaborator from the doc ``token``."""
        check_member(token, doc_type, member_type, member_id)
        await self._call(
            "DELETE",
            lark_path(_PERMS + "/{token}/members/{member_id}", token=token, member_id=member_id),
            api="drive.permission.member.delete",
            app_id=app_id,
            query={"type": doc_type, "member_type": member_type},
            rate_family="drive",
        )
