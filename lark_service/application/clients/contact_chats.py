"""The chat half of `ContactClient`: im/v1 chat info and members (rate family "im.read")."""

from __future__ import annotations

from lark_service.application.clients.contact_support import ContactClientBase, page_query
from lark_service.domain.models.contact import (
    CHAT_MEMBERS_PAGE_MAX,
    USER_ID_TYPES,
    Chat,
    ChatMemberPage,
    check_choice,
    check_id,
)
from lark_service.domain.models.ids import lark_path

CHATS = "/open-apis/im/v1/chats"


class ChatMethods(ContactClientBase):
    """``get_chat`` and ``list_chat_members`` (``iter_chat_members`` is in `ContactIterators`)."""

    async def get_chat(
        self,
        chat_id: str,
        *,
        user_id_type: str = "open_id",
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Chat:
        """A chat's details (``GET im/v1/chats/:chat_id``); ``owner_id`` uses
        ``user_id_type``. When the bot is not in the chat Lark returns only the basics."""
        check_id(chat_id, "chat_id")
        query = {"user_id_type": check_choice(user_id_type, USER_ID_TYPES, "user_id_type")}

        async def load() -> Chat:
            chat = await self._get(
                Chat,
                lark_path(CHATS + "/{chat_id}", chat_id=chat_id),
                api="im.chat.get",
                app_id=app_id,
                query=query,
                rate_family="im.read",
            )
            chat.chat_id = chat_id  # Lark does not echo it
            return chat

        return await self._cached(app_id, ("chat", chat_id, user_id_type), load)

    async def list_chat_members(
        self,
        chat_id: str,
        *,
        member_id_type: str = "open_id",
        page_size: int = CHAT_MEMBERS_PAGE_MAX,
        page_token: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> ChatMemberPage:
        """One page of a chat's members (``GET im/v1/chats/:chat_id/members``, bots not
        listed); the bot must be in the chat, else `PermissionDeniedError`."""
        check_id(chat_id, "chat_id")
        query = {
            "member_id_type": check_choice(member_id_type, USER_ID_TYPES, "member_id_type"),
            **page_query(page_size, page_token, CHAT_MEMBERS_PAGE_MAX),
        }
        return await self._get_page(
            ChatMemberPage,
            lark_path(CHATS + "/{chat_id}/members", chat_id=chat_id),
            api="im.chat.members.get",
            app_id=app_id,
            query=query,
            rate_family="im.read",
        )
