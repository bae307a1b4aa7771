"""`InMemoryContacts`: a dict-backed `ContactPort` for embedders' unit tests.

Seed it with `add_user`, `add_department` and `add_chat`; it then answers like
`ContactClient` does against Lark: the same input checks (`ConfigError`), `NotFoundError`
with Lark's codes (41050 user, 40015 department, 232006 chat), resigned users left out of
department lists and of `batch_get_user_ids` unless ``include_resigned``, pages with
``has_more``/``page_token``. One directory serves every ``app_id`` (it is accepted and
ignored). A department's users are those whose ``department_ids`` hold its open or custom id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from lark_service.adapters.memory.paging import offset_page
from lark_service.application.clients.contact_iter import ContactIterators
from lark_service.application.clients.contact_support import check_lookups, check_user_ids
from lark_service.domain.errors import NotFoundError, PermissionDeniedError
from lark_service.domain.models.common import Page, check_page_size
from lark_service.domain.models.contact import (
    CHAT_MEMBERS_PAGE_MAX,
    CONTACT_PAGE_MAX,
    DEPARTMENT_ID_TYPES,
    ROOT_DEPARTMENT_ID,
    USER_ID_TYPES,
    Chat,
    ChatMember,
    ChatMemberPage,
    Department,
    User,
    UserContactInfo,
    check_choice,
    check_id,
)

T = TypeVar("T")


class InMemoryContacts(ContactIterators):
    """Users, departments and chats held in dicts; implements
    `lark_service.domain.ports.contact.ContactPort`."""

    def __init__(self) -> None:
        self.users: list[User] = []
        self.departments: list[Department] = [
            Department(open_department_id=ROOT_DEPARTMENT_ID, department_id=ROOT_DEPARTMENT_ID)
        ]
        self.chats: dict[str, tuple[Chat, list[ChatMember], bool]] = {}

    # seeding ----------------------------------------------------------------------------
    def add_user(self, user: User) -> User:
        """Store a user (put its departments in ``department_ids``)."""
        self.users.append(user)
        return user

    def add_department(self, department: Department) -> Department:
        """Store a department (``parent_department_id`` "0" or "" for a top-level one)."""
        self.departments.append(department)
        return department

    def add_chat(
        self, chat: Chat, members: Sequence[ChatMember] = (), *, bot_in_chat: bool = True
    ) -> Chat:
        """Store a chat and its members; without the bot, member lists are refused."""
        self.chats[check_id(chat.chat_id, "chat_id")] = (chat, list(members), bot_in_chat)
        return chat

    # users ------------------------------------------------------------------------------
    def _user(self, user_id: str, id_type: str) -> User | None:
        return next((u for u in self.users if getattr(u, id_type) == user_id), None)

    def _found_user(self, found: list[UserContactInfo], id_type: str) -> User | None:
        return self._user(found[0].user_id, id_type) if found[0].user_id else None

    async def get_user(
        self,
        user_id: str,
        *,
        user_id_type: str = "open_id",
        department_id_type: str = "open_department_id",
        app_id: str | None = None,
    ) -> User:
        """The user, else `NotFoundError` (code 41050)."""
        check_id(user_id, "user_id")
        check_choice(user_id_type, USER_ID_TYPES, "user_id_type")
        check_choice(department_id_type, DEPARTMENT_ID_TYPES, "department_id_type")
        user = self._user(user_id, user_id_type)
        if user is None:
            raise NotFoundError("no user authority error", code=41050, api="contact.user.get")
        return user

    async def batch_get_users(
        self,
        user_ids: Sequence[str],
        *,
        user_id_type: str = "open_id",
        department_id_type: str = "open_department_id",
        app_id: str | None = None,
    ) -> list[User]:
        """Known users in input order; unknown ids left out."""
        ids = check_user_ids(user_ids)
        check_choice(user_id_type, USER_ID_TYPES, "user_id_type")
        found = (self._user(i, user_id_type) for i in ids)
        return [u for u in found if u is not None]

    async def batch_get_user_ids(
        self,
        *,
        emails: Sequence[str] = (),
        mobiles: Sequence[str] = (),
        include_resigned: bool = False,
        user_id_type: str = "open_id",
        app_id: str | None = None,
    ) -> list[UserContactInfo]:
        """One entry per email, then per mobile; ``user_id`` "" when not found."""
        check_lookups(emails, mobiles)
        check_choice(user_id_type, USER_ID_TYPES, "user_id_type")
        out = []
        for field, values in (("email", emails), ("mobile", mobiles)):
            for value in values:
                user = next((u for u in self.users if getattr(u, field) == value), None)
                entry = UserContactInfo(
                    email=value if field == "email" else "",
                    mobile=value if field == "mobile" else "",
                )
                if user is not None and (include_resigned or not _resigned(user)):
                    entry.user_id = getattr(user, user_id_type)
                    entry.status = user.status
                out.append(entry)
        return out

    async def get_user_by_email(
        self,
        email: str,
        *,
        user_id_type: str = "open_id",
        include_resigned: bool = False,
        app_id: str | None = None,
    ) -> User | None:
        """The user with this email, or None."""
        found = await self.batch_get_user_ids(
            emails=[email], include_resigned=include_resigned, user_id_type=user_id_type
        )
        return self._found_user(found, user_id_type)

    async def get_user_by_mobile(
        self,
        mobile: str,
        *,
        user_id_type: str = "open_id",
        include_resigned: bool = False,
        app_id: str | None = None,
    ) -> User | None:
        """The user with this mobile number, or None."""
        found = await self.batch_get_user_ids(
            mobiles=[mobile], include_resigned=include_resigned, user_id_type=user_id_type
        )
        return self._found_user(found, user_id_type)

    # departments --------------------------------------------------------------------------
    async def get_department(
        self,
        department_id: str,
        *,
        department_id_type: str = "open_department_id",
        user_id_type: str = "open_id",
        app_id: str | None = None,
    ) -> Department:
        """The department, else `NotFoundError` (code 40015)."""
        check_id(department_id, "department_id")
        check_choice(department_id_type, DEPARTMENT_ID_TYPES, "department_id_type")
        for dept in self.departments:
            if department_id == ROOT_DEPARTMENT_ID == dept.open_department_id:
                return dept
            if getattr(dept, department_id_type) == department_id:
                return dept
        raise NotFoundError("department not exist", code=40015, api="contact.department.get")

    def _children(self, dept: Department, recursive: bool) -> list[Department]:
        ids = {dept.open_department_id, dept.department_id} - {""}
        if dept.open_department_id == ROOT_DEPARTMENT_ID:
            ids.add("")  # a department stored without a parent is top-level
        out: list[Department] = []
        for child in self.departments:
            is_root = child.open_department_id == ROOT_DEPARTMENT_ID
            if not is_root and child is not dept and child.parent_department_id in ids:
                out.append(child)
                if recursive:
                    out.extend(self._children(child, True))
        return out

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
    ) -> Page[Department]:
        """One page of sub-departments (all descendants with ``fetch_child``)."""
        check_page_size(page_size, CONTACT_PAGE_MAX)
        dept = await self.get_department(department_id, department_id_type=department_id_type)
        items, token, more = offset_page(self._children(dept, fetch_child), page_size, page_token)
        return Page(items=items, page_token=token, has_more=more)

    async def list_department_users(
        self,
        department_id: str,
        *,
        page_size: int = CONTACT_PAGE_MAX,
        page_token: str | None = None,
        department_id_type: str = "open_department_id",
        user_id_type: str = "open_id",
        app_id: str | None = None,
    ) -> Page[User]:
        """One page of a department's direct, non-resigned members."""
        check_page_size(page_size, CONTACT_PAGE_MAX)
        dept = await self.get_department(department_id, department_id_type=department_id_type)
        ids = {dept.open_department_id, dept.department_id} - {""}
        members = [u for u in self.users if ids.intersection(u.department_ids) and not _resigned(u)]
        items, token, more = offset_page(members, page_size, page_token)
        return Page(items=items, page_token=token, has_more=more)

    # chats ------------------------------------------------------------------------------
    def _chat(self, chat_id: str) -> tuple[Chat, list[ChatMember], bool]:
        check_id(chat_id, "chat_id")
        try:
            return self.chats[chat_id]
        except KeyError:
            raise NotFoundError(
                "Your request specifies a chat_id which is invalid.", code=232006, api="im.chat.get"
            ) from None

    async def get_chat(
        self, chat_id: str, *, user_id_type: str = "open_id", app_id: str | None = None
    ) -> Chat:
        """The chat, else `NotFoundError` (code 232006)."""
        check_choice(user_id_type, USER_ID_TYPES, "user_id_type")
        return self._chat(chat_id)[0]

    async def list_chat_members(
        self,
        chat_id: str,
        *,
        member_id_type: str = "open_id",
        page_size: int = CHAT_MEMBERS_PAGE_MAX,
        page_token: str | None = None,
        app_id: str | None = None,
    ) -> ChatMemberPage:
        """One page of members as stored (``member_id_type`` is checked, not converted)."""
        check_choice(member_id_type, USER_ID_TYPES, "member_id_type")
        check_page_size(page_size, CHAT_MEMBERS_PAGE_MAX)
        _, members, bot_in = self._chat(chat_id)
        if not bot_in:
            raise PermissionDeniedError("Operator can NOT be out of the chat.", code=232011)
        items, token, more = offset_page(members, page_size, page_token)
        return ChatMemberPage(
            items=items, page_token=token, has_more=more, member_total=len(members)
        )


def _resigned(user: User) -> bool:
    return user.status is not None and user.status.is_resigned
