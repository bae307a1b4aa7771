"""The `MessagingPort` methods that are built on its primitives, written once.

`MessagingShortcuts` is mixed into `MessagingClient`: typed sends, uploads-then-send, batches,
text replies and edits, and history paging all go through ``send_message``,
``reply_message``, ``update_message``, ``upload_image``, ``upload_file`` and
``list_messages``, which each implementation provides.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import datetime
from typing import Any, Protocol

from lark_service.application.clients.cards import CardBuilder, template_card
from lark_service.application.clients.im_content import (
    LIST_PAGE_SIZE_MAX,
    Source,
    check_receiver,
    encode_content,
    read_file,
)
from lark_service.application.clients.post import PostBuilder
from lark_service.domain.errors import ConfigError, LarkServiceError
from lark_service.domain.models.messaging import BatchSendResult, Message
from lark_service.domain.ports.messaging import MessagingPort


class SendsMessages(MessagingPort, Protocol):
    """A `MessagingPort` whose ``send_message`` is also reachable unchecked, as
    ``_send_message``: the shortcuts checked their own arguments already, and a second
    check and wrapper per send is most of what 1,000 concurrent sends cost before they
    wait for a first token (issue 8 item 12)."""

    def _send_message(
        self,
        receive_id: str,
        msg_type: str,
        content: str | dict[str, Any],
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Awaitable[Message]: ...


class MessagingShortcuts:
    """Port methods defined through the primitives of a `MessagingPort`."""

    async def send_text(
        self: SendsMessages,
        receive_id: str,
        text: str,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        timeout: float | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Send a text message; ``text`` may hold ``<at user_id="ou_x"></at>`` mentions."""
        return await self._send_message(
            receive_id,
            "text",
            {"text": text},
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_post(
        self: SendsMessages,
        receive_id: str,
        post: dict[str, Any] | PostBuilder,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        timeout: float | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Send rich text: a `PostBuilder` or its ``{"zh_cn": {title, content}}`` dict."""
        content = post.build() if isinstance(post, PostBuilder) else post
        return await self._send_message(
            receive_id,
            "post",
            content,
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_card(
        self: SendsMessages,
        receive_id: str,
        card: dict[str, Any] | CardBuilder,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        timeout: float | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Send an interactive card: a `CardBuilder` or Lark's card JSON as a dict."""
        content = card.build() if isinstance(card, CardBuilder) else card
        return await self._send_message(
            receive_id,
            "interactive",
            content,
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_template_card(
        self: SendsMessages,
        receive_id: str,
        template_id: str,
        variables: dict[str, Any] | None = None,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        timeout: float | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Send a card template made in Lark's card builder, filled with ``variables``."""
        return await self._send_message(
            receive_id,
            "interactive",
            template_card(template_id, variables),
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_image(
        self: SendsMessages,
        receive_id: str,
        image: Source,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        timeout: float | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Upload ``image`` (bytes or a path) and send it."""
        check_receiver(receive_id, receive_id_type)
        image_key = await self.upload_image(image, app_id=app_id)
        return await self._send_message(
            receive_id,
            "image",
            {"image_key": image_key},
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_file(
        self: SendsMessages,
        receive_id: str,
        file: Source,
        *,
        file_name: str | None = None,
        file_type: str | None = None,
        duration: int | None = None,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        timeout: float | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Upload ``file`` and send it (an ``opus`` file goes as an ``audio`` message)."""
        check_receiver(receive_id, receive_id_type)
        data, name, kind = await read_file(file, file_name, file_type)
        file_key = await self.upload_file(
            data, file_name=name, file_type=kind, duration=duration, app_id=app_id
        )
        return await self._send_message(
            receive_id,
            "audio" if kind == "opus" else "file",
            {"file_key": file_key},
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_batch(
        self: SendsMessages,
        receivers: Sequence[str],
        text: str | None = None,
        *,
        msg_type: str | None = None,
        content: str | dict[str, Any] | None = None,
        receive_id_type: str = "chat_id",
        concurrency: int = 10,
        app_id: str | None = None,
        timeout: float | None = None,
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
                    message = await self._send_message(
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

    async def reply_text(
        self: MessagingPort,
        message_id: str,
        text: str,
        *,
        reply_in_thread: bool = False,
        app_id: str | None = None,
        timeout: float | None = None,
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

    async def update_text(
        self: MessagingPort,
        message_id: str,
        text: str,
        *,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Edit a text message the app sent (PUT; Lark allows 20 edits)."""
        return await self.update_message(message_id, "text", {"text": text}, app_id=app_id)

    async def iter_messages(
        self: MessagingPort,
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
