"""`ContactIterators`: the ``iter_*`` methods of a `ContactPort` on top of its one-page calls
(used by `ContactClient`). The input is checked before the first page is asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator

from lark_service.application.clients.contact_support import department_query
from lark_service.application.pagination import iterate_pages
from lark_service.domain.models.common import check_page_size
from lark_service.domain.models.contact import (
    CHAT_MEMBERS_PAGE_MAX,
    CONTACT_PAGE_MAX,
    USER_ID_TYPES,
    ChatMember,
    Department,
    User,
    check_choice,
    check_id,
)
from lark_service.domain.ports.contact import ContactPort


def _check_department_pages(
    department_id: str, page_size: int, department_id_type: str, user_id_type: str
) -> None:
    check_id(department_id, "department_id")
    department_query(department_id_type, user_id_type)
    check_page_size(page_size, CONTACT_PAGE_MAX)


class ContactIterators:
    """Page-after-page iterators of sub-departments, department members and chat members."""

    def iter_child_departments(
        self: ContactPort,
        department_id: str,
        *,
        fetch_child: bool = False,
        page_size: int = CONTACT_PAGE_MAX,
        department_id_type: str = "open_department_id",
        user_id_type: str = "open_id",
        app_id: str | None = None,
    ) -> AsyncIterator[Department]:
        """Every sub-department, page after page."""
        _check_department_pages(department_id, page_size, department_id_type, user_id_type)
        return iterate_pages(
            lambda token: self.list_child_departments(
                department_id,
                fetch_child=fetch_child,
                page_size=page_size,
                page_token=token,
                department_id_type=department_id_type,
                user_id_type=user_id_type,
                app_id=app_id,
            )
        )

    def iter_department_users(
        self: ContactPort,
        department_id: str,
        *,
        page_size: int = CONTACT_PAGE_MAX,
        department_id_type: str = "open_department_id",
        user_id_type: str = "open_id",
        app_id: str | None = None,
    ) -> AsyncIterator[User]:
        """Every direct member of a department, page after page."""
        _check_department_pages(department_id, page_size, department_id_type, user_id_type)
        return iterate_pages(
            lambda token: self.list_department_users(
                department_id,
                page_size=page_size,
                page_token=token,
                department_id_type=department_id_type,
                user_id_type=user_id_type,
                app_id=app_id,
            )
        )

    def iter_chat_members(
        self: ContactPort,
        chat_id: str,
        *,
        member_id_type: str = "open_id",
        page_size: int = CHAT_MEMBERS_PAGE_MAX,
        app_id: str | None = None,
    ) -> AsyncIterator[ChatMember]:
        """Every member of a chat, page after page (input checked before any request)."""
        check_id(chat_id, "chat_id")
        check_choice(member_id_type, USER_ID_TYPES, "member_id_type")
        check_page_size(page_size, CHAT_MEMBERS_PAGE_MAX)
        return iterate_pages(
            lambda token: self.list_chat_members(
                chat_id,
                member_id_type=member_id_type,
                page_size=page_size,
                page_token=token,
                app_id=app_id,
            )
        )
