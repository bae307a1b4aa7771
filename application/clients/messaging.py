"""`MessagingClient`: send and manage im/v1 messages.

Every send and reply carries Lark's dedup ``uuid`` (the caller's or one generated per
logical send). The body is encoded once, so the transport's retries repeat the same uuid and
Lark keeps one message; such POSTs are therefore marked idempotent. Rate families: sends and
replies ``im.message.send`` (subject: the receiver; for a reply the parent message_id, since
its chat is not known client-side), edits and recalls ``im.message.write``, reads
``im.read``, uploads ``im.upload``.

Naming: replies mirror the sends, ``reply_text`` / ``reply_message`` like ``send_text`` /
``send_message``; ``recall_message`` is Lark's own word for DELETE on a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec

from application.base_client import decode_data
from application.clients.cards import CardBuilder, template_card
from application.clients.im_content import (
    TEXT_MAX_BYTES,
    UUID_MAX_LEN,
    Source,
    check_file,
    check_receiver,
    check_uuid,
    encode_content,
    new_uuid,
    read_source,
)
from application.clients.im_messages import MESSAGES_PATH, MessageOpsMixin
from application.clients.im_uploads import UploadsMixin
from application.clients.post import PostBuilder
from domain.errors import ConfigError, LarkServiceError
from domain.models.messaging import BatchSendResult, BotInfo, Message

__all__ = ["TEXT_MAX_BYTES", "UUID_MAX_LEN", "MessagingClient", "new_uuid"]


class _BotReply(msgspec.Struct):
    bot: BotInfo


class MessagingClient(MessageOpsMixin, UploadsMixin):
    """Messages (im/v1) and the bot. Every method takes ``app_id=`` keyword-only."""

    async def get_bot_info(self, *, app_id: str | None = None) -> BotInfo:
        """The bot of the resolved app (``GET /open-apis/bot/v3/info``)."""
        reply = await self._call("GET", "/open-apis/bot/v3/info", api="bot.info", app_id=app_id)
        return decode_data(reply.data, _BotReply, api="bot.info").bot

    # sending ---------------------------------------------------------------------------
    async def send_text(
        self,
        receive_id: str,
        text: str,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Send a text message; ``text`` may hold ``<at user_id="ou_x"></at>`` mentions."""
        return await self.send_message(
            receive_id,
            "text",
            {"text": text},
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_post(
        self,
        receive_id: str,
        post: dict[str, Any] | PostBuilder,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Send rich text: a `PostBuilder` or its ``{"zh_cn": {title, content}}`` dict."""
        content = post.build() if isinstance(post, PostBuilder) else post
        return await self.send_message(
            receive_id,
            "post",
            content,
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_card(
        self,
        receive_id: str,
        card: dict[str, Any] | CardBuilder,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Send an interactive card: a `CardBuilder` or Lark's card JSON as a dict."""
        content = card.build() if isinstance(card, CardBuilder) else card
        return await self.send_message(
            receive_id,
            "interactive",
            content,
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_template_card(
        self,
        receive_id: str,
        template_id: str,
        variables: dict[str, Any] | None = None,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Send a card template made in Lark's card builder, filled with ``variables``."""
        return await self.send_message(
            receive_id,
            "interactive",
            template_card(template_id, variables),
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_image(
        self,
        receive_id: str,
        image: Source,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Upload ``image`` (bytes or a path) and send it."""
        check_receiver(receive_id, receive_id_type)
        image_key = await self.upload_image(image, app_id=app_id)
        return await self.send_message(
            receive_id,
            "image",
            {"image_key": image_key},
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_file(
        self,
        receive_id: str,
        file: Source,
        *,
        file_name: str | None = None,
        file_type: str | None = None,
        duration: int | None = None,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Upload ``file`` and send it (an ``opus`` file goes as an ``audio`` message)."""
        check_receiver(receive_id, receive_id_type)
        data, name = await read_source(file)
        name = file_name or name
        kind = check_file(data, name, file_type)
        file_key = await self.upload_file(
            data, file_name=name, file_type=kind, duration=duration, app_id=app_id
        )
        return await self.send_message(
            receive_id,
            "audio" if kind == "opus" else "file",
            {"file_key": file_key},
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_message(
        self,
        receive_id: str,
        msg_type: str,
        content: str | dict[str, Any],
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Send any msg_type; ``content`` is Lark's JSON string (or a dict to encode)."""
        check_receiver(receive_id, receive_id_type)
        body = {
            "receive_id": receive_id,
            "msg_type": msg_type,
            "content": encode_content(msg_type, content),
            "uuid": check_uuid(uuid) if uuid is not None else new_uuid(),
        }
        reply = await self._call(
            "POST",
            MESSAGES_PATH,
            api="im.message.create",
            app_id=app_id,
            query=(("receive_id_type", receive_id_type),),
            json=body,
            idempotent=True,
            rate_family="im.message.send",
            rate_subject=receive_id,
        )
        return decode_data(reply.data, Message, api="im.message.create")

    async def send_batch(
        self,
        receivers: Sequence[str],
        text: str | None = None,
        *,
        msg_type: str | None = None,
        content: str | dict[str, Any] | None = None,
        receive_id_type: str = "chat_id",
        concurrency: int = 10,
        app_id: str | None = None,
    ) -> list[BatchSendResult]:
        """Send one message to each receiver, ``concurrency`` at a time, in input order.

        Give ``text`` or ``msg_type`` + ``content``. A receiver's failure is kept in its
        result and does not stop the others; each receiver gets its own uuid.
        """
        if (text is None) == (content is None):
            raise ConfigError("give either text or msg_type + content")
        kind, body = ("text", {"text": text}) if text is not None else (msg_type or "", content)
        if body is None:  # pragma: no cover - excluded by the check above
            raise ConfigError("give either text or msg_type + content")
        encoded = encode_content(kind, body)
        for receive_id in receivers:
            check_receiver(receive_id, receive_id_type)
        if concurrency < 1:
            raise ConfigError("concurrency must be at least 1")
        gate = asyncio.Semaphore(concurrency)

        async def one(receive_id: str) -> BatchSendResult:
            async with gate:
                try:
                    message = await self.send_message(
                        receive_id,
                        kind,
                        encoded,
                        receive_id_type=receive_id_type,
                        app_id=app_id,
                    )
                except LarkServiceError as exc:
                    return BatchSendResult(receive_id=receive_id, error=exc)
                return BatchSendResult(receive_id=receive_id, message=message)

        return list(await asyncio.gather(*(one(r) for r in receivers)))
