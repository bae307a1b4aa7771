"""Replies, edits, recalls and reads of im/v1 messages (mixed into `MessagingClient`).

Lark's replies: PUT edit → the Message; PATCH card, DELETE recall → empty ``data``; GET one
→ ``data.items`` holding the one message; GET list → ``items, has_more, page_token``
(``page_size`` at most 50). History times are Unix **seconds** (Lark's unit here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import msgspec

from application.base_client import BaseServiceClient, decode_data
from application.clients.cards import CardBuilder
from application.clients.im_content import (
    check_message_id,
    check_uuid,
    encode_content,
    new_uuid,
)
from application.clients.post import PostBuilder
from domain.errors import ConfigError, LarkServiceError
from domain.models.common import Page
from domain.models.messaging import CONTAINER_ID_TYPES, SORT_TYPES, Message

MESSAGES_PATH = "/open-apis/im/v1/messages"
_MESSAGES = MESSAGES_PATH
LIST_PAGE_SIZE_MAX = 50


class _Items(msgspec.Struct):
    items: list[Message] = []


def _seconds(value: int | datetime | None) -> str | None:
    if value is None:
        return None
    return str(int(value.timestamp()) if isinstance(value, datetime) else int(value))


class MessageOpsMixin(BaseServiceClient):
    """Reply, edit, recall, get and list messages."""

    async def reply_text(
        self,
        message_id: str,
        text: str,
        *,
        reply_in_thread: bool = False,
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Reply to ``message_id`` with text (in its thread when ``reply_in_thread``)."""
        return await self.reply_message(
            message_id,
            "text",
            {"text": text},
            reply_in_thread=reply_in_thread,
            app_id=app_id,
            uuid=uuid,
        )

    async def reply_message(
        self,
        message_id: str,
        msg_type: str,
        content: str | dict[str, Any] | PostBuilder | CardBuilder,
        *,
        reply_in_thread: bool = False,
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Reply with any msg_type (builders are built first)."""
        check_message_id(message_id)
        if isinstance(content, (PostBuilder, CardBuilder)):
            content = content.build()
        body = {
            "msg_type": msg_type,
            "content": encode_content(msg_type, content),
            "reply_in_thread": reply_in_thread,
            "uuid": check_uuid(uuid) if uuid is not None else new_uuid(),
        }
        reply = await self._call(
            "POST",
            f"{_MESSAGES}/{message_id}/reply",
            api="im.message.reply",
            app_id=app_id,
            json=body,
            idempotent=True,
            rate_family="im.message.send",
            rate_subject=message_id,
        )
        return decode_data(reply.data, Message, api="im.message.reply")

    async def update_text(
        self, message_id: str, text: str, *, app_id: str | None = None
    ) -> Message:
        """Edit a text message the app sent (PUT; Lark allows 20 edits)."""
        return await self.update_message(message_id, "text", {"text": text}, app_id=app_id)

    async def update_message(
        self,
        message_id: str,
        msg_type: str,
        content: str | dict[str, Any] | PostBuilder,
        *,
        app_id: str | None = None,
    ) -> Message:
        """Edit a text or post message the app sent (PUT)."""
        check_message_id(message_id)
        if msg_type not in ("text", "post"):
            raise ConfigError("only text and post messages can be edited; use update_card")
        if isinstance(content, PostBuilder):
            content = content.build()
        body = {"msg_type": msg_type, "content": encode_content(msg_type, content)}
        reply = await self._call(
            "PUT",
            f"{_MESSAGES}/{message_id}",
            api="im.message.update",
            app_id=app_id,
            json=body,
            rate_family="im.message.write",
        )
        return decode_data(reply.data, Message, api="im.message.update")

    async def update_card(
        self, message_id: str, card: dict[str, Any] | CardBuilder, *, app_id: str | None = None
    ) -> None:
        """Replace the card of an interactive message the app sent (PATCH)."""
        check_message_id(message_id)
        content = card.build() if isinstance(card, CardBuilder) else card
        await self._call(
            "PATCH",
            f"{_MESSAGES}/{message_id}",
            api="im.message.patch",
            app_id=app_id,
            json={"content": encode_content("interactive", content)},
            idempotent=True,  # setting the same card twice has one effect
            rate_family="im.message.write",
        )

    async def recall_message(self, message_id: str, *, app_id: str | None = None) -> None:
        """Recall (withdraw) a message the app sent (DELETE)."""
        check_message_id(message_id)
        await self._call(
            "DELETE",
            f"{_MESSAGES}/{message_id}",
            api="im.message.delete",
            app_id=app_id,
            rate_family="im.message.write",
        )

    # reading ---------------------------------------------------------------------------
    async def get_message(self, message_id: str, *, app_id: str | None = None) -> Message:
        """One message (a recalled one comes back with ``deleted=True``)."""
        check_message_id(message_id)
        reply = await self._call(
            "GET",
            f"{_MESSAGES}/{message_id}",
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
    ) -> Page[Message]:
        """One page of a chat's (or thread's) history; times are Unix seconds."""
        if container_id_type not in CONTAINER_ID_TYPES:
            raise ConfigError(f"container_id_type must be one of {sorted(CONTAINER_ID_TYPES)}")
        if not container_id:
            raise ConfigError("container_id is empty")
        if sort_type not in SORT_TYPES:
            raise ConfigError(f"sort_type must be one of {sorted(SORT_TYPES)}")
        if not 1 <= page_size <= LIST_PAGE_SIZE_MAX:
            raise ConfigError(f"page_size must be 1 to {LIST_PAGE_SIZE_MAX}")
        query = {
            "container_id_type": container_id_type,
            "container_id": container_id,
            "start_time": _seconds(start_time),
            "end_time": _seconds(end_time),
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

    async def iter_messages(
        self,
        container_id: str,
        *,
        container_id_type: str = "chat",
        start_time: int | datetime | None = None,
        end_time: int | datetime | None = None,
        sort_type: str = "ByCreateTimeAsc",
        page_size: int = LIST_PAGE_SIZE_MAX,
        app_id: str | None = None,
    ) -> AsyncIterator[Message]:
        """Every message of the history, page after page."""
        token: str | None = None
        while True:
            page = await self.list_messages(
                container_id,
                container_id_type=container_id_type,
                start_time=start_time,
                end_time=end_time,
                sort_type=sort_type,
                page_size=page_size,
                page_token=token,
                app_id=app_id,
            )
            for item in page.items:
                yield item
            if not page.has_more or not page.page_token:
                return
            token = page.page_token
