"""`ContactClient`: contact/v3 users and departments, plus im/v1 chats (`ChatMethods`).

Users and departments use rate family "contact", chats "im.read". ``users/batch`` omits
users the app cannot see (documented), so `batch_get_users` returns only the users found,
in input order. Ids go into URL paths and are checked before any request. Error-code
remapping and the optional cache are in `lark_service.application.clients.contact_support`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from lark_service.application.base_client import decode_data
from lark_service.application.clients.contact_chats import ChatMethods
from lark_service.application.clients.contact_iter import ContactIterators
from lark_service.application.clients.contact_support import (
    check_lookups,
    check_user_ids,
    department_query,
    page_query,
)
from lark_service.domain.batch import chunks
from lark_service.domain.models.common import Page
from lark_service.domain.models.contact import (
    BATCH_MAX,
    CONTACT_PAGE_MAX,
    DEPARTMENT_ID_TYPES,
    USER_ID_TYPES,
    Department,
    User,
    UserContactInfo,
    check_choice,
    check_id,
)
from lark_service.domain.models.ids import lark_path

CONTACT = "/open-apis/contact/v3"


class _UserReply(msgspec.Struct):
    user: User


class _DepartmentReply(msgspec.Struct):
    department: Department


class _UsersReply(msgspec.Struct):
    items: list[User] = []


class _IdsReply(msgspec.Struct):
    user_list: list[UserContactInfo] = []


class ContactClient(ContactIterators, ChatMethods):
    """Users, departments (contact/v3) and chats (im/v1), every method taking ``app_id=``.

    ``cache_ttl`` (seconds, default off) turns on a read-through cache of `get_user`,
    `get_department` and `get_chat` results keyed by (app, kind, id, id types), so one
    app's answer is never served to another. The TTL runs on the pool's clock.
    """

    # users ------------------------------------------------------------------------------
    async def get_user(
        self,
        user_id: str,
        *,
        user_id_type: str = "open_id",
        department_id_type: str = "open_department_id",
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> User:
        """One user (``GET contact/v3/users/:user_id``); unknown or out of scope → NotFound."""
        check_id(user_id, "user_id")
        query = {
            "user_id_type": check_choice(user_id_type, USER_ID_TYPES, "user_id_type"),
            "department_id_type": check_choice(
                department_id_type, DEPARTMENT_ID_TYPES, "department_id_type"
            ),
        }

        async def load() -> User:
            reply = await self._get(
                _UserReply,
                lark_path(CONTACT + "/users/{user_id}", user_id=user_id),
                api="contact.user.get",
                app_id=app_id,
                query=query,
                rate_family="contact",
            )
            return reply.user

        parts = ("user", user_id, user_id_type, department_id_type)
        return await self._cached(app_id, parts, load)

    async def batch_get_users(
        self,
        user_ids: Sequence[str],
        *,
        user_id_type: str = "open_id",
        department_id_type: str = "open_department_id",
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> list[User]:
        """Users by id (``GET users/batch``, 50 ids a request, chunked), in input order;
        ids Lark does not return (unknown, out of scope) are left out."""
        ids = check_user_ids(user_ids)
        check_choice(user_id_type, USER_ID_TYPES, "user_id_type")
        check_choice(department_id_type, DEPARTMENT_ID_TYPES, "department_id_type")
        unique = list(dict.fromkeys(ids))
        found: list[User] = []
        for chunk in chunks(unique, BATCH_MAX):
            reply = await self._get(
                _UsersReply,
                f"{CONTACT}/users/batch",
                api="contact.user.batch",
                app_id=app_id,
                query={
                    "user_ids": list(chunk),
                    "user_id_type": user_id_type,
                    "department_id_type": department_id_type,
                },
                rate_family="contact",
            )
            found.extend(reply.items)
        by_id = {getattr(u, user_id_type): u for u in found if getattr(u, user_id_type)}
        ordered = [by_id[i] for i in ids if i in by_id]
        # Without the user_id field scope Lark omits user_id: keep those users anyway.
        ordered.extend(u for u in found if not getattr(u, user_id_type))
        return ordered

    async def batch_get_user_ids(
        self,
        *,
        emails: Sequence[str] = (),
        mobiles: Sequence[str] = (),
        include_resigned: bool = False,
        user_id_type: str = "open_id",
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> list[UserContactInfo]:
        """User ids by email / mobile (``POST users/batch_get_id``, 50 of each a request,
        chunked): the email entries in input order, then the mobile entries."""
        check_lookups(emails, mobiles)
        check_choice(user_id_type, USER_ID_TYPES, "user_id_type")
        email_chunks = list(chunks(list(emails), BATCH_MAX))
        mobile_chunks = list(chunks(list(mobiles), BATCH_MAX))
        by_email: list[UserContactInfo] = []
        by_mobile: list[UserContactInfo] = []
        for i in range(max(len(email_chunks), len(mobile_chunks))):
            body: dict[str, Any] = {"include_resigned": include_resigned}
            if i < len(email_chunks):
                body["emails"] = list(email_chunks[i])
            if i < len(mobile_chunks):
                body["mobiles"] = list(mobile_chunks[i])
            reply = await self._call(
                "POST",
                f"{CONTACT}/users/batch_get_id",
                api="contact.user.batch_get_id",
                app_id=app_id,
                query={"user_id_type": user_id_type},
                json=body,
                idempotent=True,  # a lookup: repeating it is harmless
                rate_family="contact",
            )
            entries = decode_data(reply.data, _IdsReply, api="contact.user.batch_get_id")
            for entry in entries.user_list:
                (by_mobile if entry.mobile and not entry.email else by_email).append(entry)
        return by_email + by_mobile

    async def get_user_by_email(
        self,
        email: str,
        *,
        user_id_type: str = "open_id",
        include_resigned: bool = False,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> User | None:
        """The user with this email, or None when Lark returns no user_id for it."""
        found = await self.batch_get_user_ids(
            emails=[email],
            include_resigned=include_resigned,
            user_id_type=user_id_type,
            app_id=app_id,
        )
        return await self._resolve_first(found, user_id_type, app_id)

    async def get_user_by_mobile(
        self,
        mobile: str,
        *,
        user_id_type: str = "open_id",
        include_resigned: bool = False,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> User | None:
        """The user with this mobile number, or None when Lark returns no user_id for it."""
        found = await self.batch_get_user_ids(
            mobiles=[mobile],
            include_resigned=include_resigned,
            user_id_type=user_id_type,
            app_id=app_id,
        )
        return await self._resolve_first(found, user_id_type, app_id)

    async def _resolve_first(
        self, found: list[UserContactInfo], user_id_type: str, app_id: str | None
    ) -> User | None:
        user_id = next((e.user_id for e in found if e.user_id), "")
        if not user_id:
            return None
        return await self.get_user(user_id, user_id_type=user_id_type, app_id=app_id)

    # departments --------------------------------------------------------------------------
    async def get_department(
        self,
        department_id: str,
        *,
        department_id_type: str = "open_department_id",
        user_id_type: str = "open_id",
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Department:
        """One department (``GET departments/:id``; the root is ``"0"``)."""
        check_id(department_id, "department_id")
        query = department_query(department_id_type, user_id_type)

        async def load() -> Department:
            reply = await self._get(
                _DepartmentReply,
                lark_path(CONTACT + "/departments/{department_id}", department_id=department_id),
                api="contact.department.get",
                app_id=app_id,
                query=query,
                rate_family="contact",
            )
            return reply.department

        parts = ("department", department_id, department_id_type, user_id_type)
        return await self._cached(app_id, parts, load)

    async def list_child_departments(
        self,
        department_id: str,
        *,
        fetch_child: bool = False,
        page_size: int = CONTACT_PAGE_MAX,
        page_token: str | None = None,
        department_id_type: str = "open_department_id",
        user_id_type: str = "open_id",
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Page[Department]:
        """One page of sub-departments (``GET departments/:id/children``); ``fetch_child``
        is Lark's recursive flag."""
        check_id(department_id, "department_id")
        query = {
            **department_query(department_id_type, user_id_type),
            "fetch_child": bool(fetch_child),
            **page_query(page_size, page_token, CONTACT_PAGE_MAX),
        }
        return await self._get_page(
            Page[Department],
            lark_path(
                CONTACT + "/departments/{department_id}/children", department_id=department_id
            ),
            api="contact.department.children",
            app_id=app_id,
            query=query,
            rate_family="contact",
        )

    async def list_department_users(
        self,
        department_id: str,
        *,
        page_size: int = CONTACT_PAGE_MAX,
        page_token: str | None = None,
        department_id_type: str = "open_department_id",
        user_id_type: str = "open_id",
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Page[User]:
        """One page of a department's direct members (``GET users/find_by_department``)."""
        query = {
            "department_id": check_id(department_id, "department_id"),
            **department_query(department_id_type, user_id_type),
            **page_query(page_size, page_token, CONTACT_PAGE_MAX),
        }
        return await self._get_page(
            Page[User],
            f"{CONTACT}/users/find_by_department",
            api="contact.user.find_by_department",
            app_id=app_id,
            query=query,
            rate_family="contact",
        )
