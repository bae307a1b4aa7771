"""The contacts port: users, departments and chats as the application reads them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from lark_service.domain.models.common import Page
from lark_service.domain.models.contact import (
    Chat,
    ChatMember,
    ChatMemberPage,
    Department,
    User,
    UserContactInfo,
)


class ContactPort(Protocol):
    """What `lark_service.application.clients.contact.ContactClient` offers; every method takes
    ``app_id=`` keyword-only (the app the call is made as)."""

    async def get_user(
        self,
        user_id: str,
        *,
        user_id_type: str = "open_id",
        department_id_type: str = "open_department_id",
        app_id: str | None = None,
    ) -> User: ...

    async def batch_get_users(
        self,
        user_ids: Sequence[str],
        *,
        user_id_type: str = "open_id",
        department_id_type: str = "open_department_id",
        app_id: str | None = None,
    ) -> list[User]: ...

    async def batch_get_user_ids(
        self,
        *,
        emails: Sequence[str] = (),
        mobiles: Sequence[str] = (),
        include_resigned: bool = False,
        user_id_type: str = "open_id",
        app_id: str | None = None,
    ) -> list[UserContactInfo]: ...

    async def get_user_by_email(
        self,
        email: str,
        *,
        user_id_type: str = "open_id",
        include_resigned: bool = False,
        app_id: str | None = None,
    ) -> User | None: ...

    async def get_user_by_mobile(
        self,
        mobile: str,
        *,
        user_id_type: str = "open_id",
        include_resigned: bool = False,
        app_id: str | None = None,
    ) -> User | None: ...

    async def get_department(
        self,
        department_id: str,
        *,
        department_id_type: str = "open_department_id",
        user_id_type: str = "open_id",
        app_id: str | None = None,
    ) -> Department: ...

    async def list_child_departments(
        self,
        department_id: str,
        *,
        fetch_child: bool = False,
        page_size: int = 50,
        page_token: str | None = None,
        department_id_type: str = "open_department_id",
        user_id_type: str = "open_id",
        app_id: str | None = None,
    ) -> Page[Department]: ...

    def iter_child_departments(
        self,
        department_id: str,
        *,
        fetch_child: bool = False,
        page_size: int = 50,
        department_id_type: str = "open_department_id",
        user_id_type: str = "open_id",
        app_id: str | None = None,
    ) -> AsyncIterator[Department]: ...

    async def list_department_users(
        self,
        department_id: str,
        *,
        page_size: int = 50,
        page_token: str | None = None,
        department_id_type: str = "open_department_id",
        user_id_type: str = "open_id",
        app_id: str | None = None,
    ) -> Page[User]: ...

    def iter_department_users(
        self,
        department_id: str,
        *,
        page_size: int = 50,
        department_id_type: str = "open_department_id",
        user_id_type: str = "open_id",
        app_id: str | None = None,
    ) -> AsyncIterator[User]: ...

    async def get_chat(
        self, chat_id: str, *, user_id_type: str = "open_id", app_id: str | None = None
    ) -> Chat: ...

    async def list_chat_members(
        self,
        chat_id: str,
        *,
        member_id_type: str = "open_id",
        page_size: int = 100,
        page_token: str | None = None,
        app_id: str | None = None,
    ) -> ChatMemberPage: ...

    def iter_chat_members(
        self,
        chat_id: str,
        *,
        member_id_type: str = "open_id",
        page_size: int = 100,
        app_id: str | None = None,
    ) -> AsyncIterator[ChatMember]: ...
