"""`MessagingClient`: send and manage im/v1 messages.

Every send and reply carries Lark's dedup ``uuid`` (the caller's or one generated per
logical send). The body is encoded once, so the transport's retries repeat the same uuid and
Lark keeps one message; such POSTs are therefore marked idempotent. Rate families: sends and
replies ``im.message.send`` (subject: the receiver; for a reply the parent message_id, since
its chat is not known client-side), edits and recalls ``im.message.write``, reads
``im.read``, uploads ``im.upload``.

Naming: replies mirror the sends, ``reply_text`` / ``reply_message`` like ``send_text`` /
``send_message``; ``recall_message`` is Lark's own word for DELETE on a message.
The typed sends, batches, ``reply_text``, ``update_text`` and ``iter_messages`` are shared
with the in-memory adapter (`lark_service.application.clients.im_shortcuts.MessagingShortcuts`).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import msgspec

from lark_service.application.base_client import decode_data, note_send_uuid
from lark_service.application.clients.im_content import (
    TEXT_MAX_BYTES,
    UUID_MAX_LEN,
    check_receiver,
    encode_content,
    new_uuid,
    send_uuid,
)
from lark_service.application.clients.im_messages import MESSAGES_PATH, MessageOpsMixin
from lark_service.application.clients.im_shortcuts import MessagingShortcuts
from lark_service.application.clients.im_uploads import UploadsMixin
from lark_service.domain.models.messaging import RECEIVE_ID_TYPES, BotInfo, Message

__all__ = ["TEXT_MAX_BYTES", "UUID_MAX_LEN", "MessagingClient", "new_uuid"]


# The query of each receive_id_type, built once (sends are the hot path).
_RECEIVE_ID_TYPE_QUERY = {t: (("receive_id_type", t),) for t in RECEIVE_ID_TYPES}


class _BotReply(msgspec.Struct):
    bot: BotInfo


class MessagingClient(MessagingShortcuts, MessageOpsMixin, UploadsMixin):
    """Messages (im/v1) and the bot. Every method takes ``app_id=`` keyword-only."""

    async def get_bot_info(
        self, *, app_id: str | None = None, timeout: float | None = None
    ) -> BotInfo:
        """The bot of the resolved app (``GET /open-apis/bot/v3/info``)."""
        reply = await self._call("GET", "/open-apis/bot/v3/info", api="bot.info", app_id=app_id)
        return decode_data(reply.data, _BotReply, api="bot.info").bot

    async def send_message(
        self,
        receive_id: str,
        msg_type: str,
        content: str | dict[str, Any],
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        timeout: float | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Send any msg_type; ``content`` is Lark's JSON string (or a dict to encode)."""
        return await self._send_message(
            receive_id, msg_type, content, receive_id_type=receive_id_type, app_id=app_id, uuid=uuid
        )

    def _send_message(
        self,
        receive_id: str,
        msg_type: str,
        content: str | dict[str, Any],
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Coroutine[Any, Any, Message]:
        """`send_message` without the argument check of a public method: the shortcuts'
        way in (`SendsMessages`), who checked their own. Not a coroutine itself: it checks
        and builds the send, then hands out the call's coroutine (one fewer per waiting send).
        An error of the call carries the uuid: its outcome may be unknown, and a retry with
        that uuid is deduplicated by Lark."""
        check_receiver(receive_id, receive_id_type)
        dedup = send_uuid(uuid)
        body = {
            "receive_id": receive_id,
            "msg_type": msg_type,
            "content": encode_content(msg_type, content),
            "uuid": dedup,
        }
        note_send_uuid(dedup)
        return self._exchange(  # not through `_call_data`: its ** would rebuild the keywords
            Message,
            "POST",
            MESSAGES_PATH,
            api="im.message.create",
            app_id=app_id,
            query=_RECEIVE_ID_TYPE_QUERY.get(receive_id_type)
            or (("receive_id_type", receive_id_type),),
            json=body,
            idempotent=True,
            rate_family="im.message.send",
            rate_subject=receive_id,
            uuid=dedup,
        )
