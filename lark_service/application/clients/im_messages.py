"""Replies, edits, recalls and reads of im/v1 messages (mixed into `MessagingClient`).

Lark's replies: PUT edit → the Message; PATCH card, DELETE recall → empty ``data``; GET one
→ ``data.items`` holding the one message; GET list → ``items, has_more, page_token``
(``page_size`` at most 50). History times are Unix **seconds** (Lark's unit here).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from lark_service.application.base_client import BaseServiceClient, decode_data, note_send_uuid
from lark_service.application.clients.cards import CardBuilder
from lark_service.application.clients.im_content import (
    LIST_PAGE_SIZE_MAX,
    card_content,
    check_history,
    check_message_id,
    edit_content,
    reply_content,
    send_uuid,
    unix_seconds,
)
from lark_service.application.clients.post import PostBuilder
from lark_service.domain.errors import LarkServiceError
from lark_service.domain.models.common import Page
from lark_service.domain.models.ids import lark_path
from lark_service.domain.models.messaging import Message

__all__ = ["LIST_PAGE_SIZE_MAX", "MESSAGES_PATH", "MessageOpsMixin"]

MESSAGES_PATH = "/open-apis/im/v1/messages"
_MESSAGES = MESSAGES_PATH
_MESSAGE = MESSAGES_PATH + "/{message_id}"


class _Items(msgspec.Struct):
    items: list[Message] = []


class MessageOpsMixin(BaseServiceClient):
    """Reply, edit, recall, get and list messages."""

    async def reply_message(
        self,
        message_id: str,
        msg_type: str,
        content: str | dict[str, Any] | PostBuilder | CardBuilder,
        *,
        reply_in_thread: bool = False,
        app_id: str | None = None,
        timeout: float | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Reply with any msg_type (builders are built first)."""
        check_message_id(message_id)
        dedup = send_uuid(uuid)
        body = {
            "msg_type": msg_type,
            "content": reply_content(msg_type, content),
            "reply_in_thread": reply_in_thread,
            "uuid": dedup,
        }
        note_send_uuid(dedup)
        return await self._call_data(
            Message,
            "POST",
            lark_path(_MESSAGE + "/reply", message_id=message_id),
            api="im.message.reply",
            app_id=app_id,
            json=body,
            idempotent=True,
            rate_family="im.message.send",
            rate_subject=message_id,
            uuid=dedup,  # on its error: the outcome may be unknown, a retry with it dedups
        )

    async def update_message(
        self,
        message_id: str,
        msg_type: str,
        content: str | dict[str, Any] | PostBuilder,
        *,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Edit a text or post message the app sent (PUT)."""
        check_message_id(message_id)
        body = {"msg_type": msg_type, "content": edit_content(msg_type, content)}
        reply = await self._call(
            "PUT",
            lark_path(_MESSAGE, message_id=message_id),
            api="im.message.update",
            app_id=app_id,
            json=body,
            rate_family="im.message.write",
        )
        return decode_data(reply.data, Message, api="im.message.update")

    async def update_card(
        self,
        message_id: str,
        card: dict[str, Any] | CardBuilder,
        *,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Replace the card of an interactive message the app sent (PATCH)."""
        check_message_id(message_id)
        content = card_content(card)
        await self._call(
            "PATCH",
            lark_path(_MESSAGE, message_id=message_id),
            api="im.message.patch",
            app_id=app_id,
            json={"content": content},
            idempotent=True,  # setting the same card twice has one effect
            rate_family="im.message.write",
        )

    async def recall_message(
        self, message_id: str, *, app_id: str | None = None, timeout: float | None = None
    ) -> None:
        """Recall (withdraw) a message the app sent (DELETE)."""
        check_message_id(message_id)
        await self._call(
            "DELETE",
            lark_path(_MESSAGE, message_id=message_id),
            api="im.message.delete",
            app_id=app_id,
            rate_family="im.message.write",
        )

    # reading ---------------------------------------------------------------------------
    async def get_message(
        self, message_id: str, *, app_id: str | None = None, timeout: float | None = None
    ) -> Message:
        """One message (a recalled one comes back with ``deleted=True``)."""
        check_message_id(message_id)
        reply = await self._call(
            "GET",
            lark_path(_MESSAGE, message_id=message_id),
            api="im.message.get",
            app_id=app_id,
            rate_family="im.read",
        )
        items = decode_data(reply.data, _Items, api="im.message.get").items
        if not items:
            raise LarkServiceError("Lark returned no message", api="im.message.get", code=-2)
        return items[0]

    async def list_messages(
        self,
        container_id: str,
        *,
        container_id_type: str = "chat",
        start_time: int | datetime | None = None,
        end_time: int | datetime | None = None,
        sort_type: str = "ByCreateTimeAsc",
        page_size: int = LIST_PAGE_SIZE_MAX,
        page_token: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Page[Message]:
        """One page of a chat's (or thread's) history; times are Unix seconds."""
        check_history(container_id, container_id_type, sort_type, page_size)
        query = {
            "container_id_type": container_id_type,
            "container_id": container_id,
            "start_time": unix_seconds(start_time),
            "end_time": unix_seconds(end_time, "end_time"),
            "sort_type": sort_type,
            "page_size": page_size,
            "page_token": page_token,
        }
        reply = await self._call(
            "GET",
            _MESSAGES,
            api="im.message.list",
            app_id=app_id,
            query=query,
            rate_family="im.read",
        )
        page = decode_data(reply.data, Page[Message], api="im.message.list")
        if not page.has_more:
            page.page_token = None
        return page
