"""`InMemoryMessaging`: a dict-backed `MessagingPort` for embedders' unit tests.

It applies the client's own input checks (the same `ConfigError`s) and Lark's behaviour on
the main operations: uuid dedup per app, replies with root/parent/thread ids, edits of
text/post only by the sending app (20 at most), card updates of interactive messages only,
recall marking ``deleted``, history per chat with time filters, sort and pages of ≤50.
Errors are the typed errors the client raises for Lark's codes (230001 for an unknown message,
230011 for a recalled one, 230012/230026 for another app's
message). No rate limits, no network. ``messages`` holds every stored message.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

from application.clients.cards import CardBuilder, template_card
from application.clients.im_content import (
    Source,
    check_file,
    check_image,
    check_message_id,
    check_receiver,
    check_uuid,
    encode_content,
    read_source,
)
from application.clients.post import PostBuilder
from domain.errors import ConfigError, LarkAPIError, LarkServiceError, error_from_reply
from domain.models.common import Page
from domain.models.messaging import (
    CONTAINER_ID_TYPES,
    SORT_TYPES,
    BatchSendResult,
    BotInfo,
    Message,
    MessageBody,
    Sender,
)


class InMemoryMessaging:
    """Messages kept in memory, as Lark would keep them for one tenant."""

    def __init__(
        self, *, default_app_id: str = "cli_memory", clock: Callable[[], float] = time.time
    ) -> None:
        self.default_app_id = default_app_id
        self.messages: dict[str, Message] = {}
        self.images: dict[str, str] = {}
        self.files: dict[str, str] = {}
        self._uuids: dict[tuple[str, str], str] = {}
        self._edits: dict[str, int] = {}
        self._clock = clock

    def _app(self, app_id: str | None) -> str:
        return app_id or self.default_app_id

    def _find(self, message_id: str, *, live: bool = True) -> Message:
        check_message_id(message_id)
        msg = self.messages.get(message_id)
        if msg is None:
            raise _lark(230001, "message_id not found")
        if live and msg.deleted:
            raise _lark(230011, "The message is recalled.")
        return msg

    def _own(self, message_id: str, app_id: str | None) -> Message:
        msg = self._find(message_id)
        if msg.sender is None or msg.sender.id != self._app(app_id):
            raise _lark(230012, "Bot is NOT the sender of the message.")
        return msg

    def _store(
        self,
        app: str,
        chat_id: str,
        msg_type: str,
        content: str,
        *,
        root_id: str = "",
        parent_id: str = "",
        thread_id: str = "",
    ) -> Message:
        now = str(int(self._clock() * 1000))  # history order is insertion order
        msg = Message(
            message_id="om_" + secrets.token_hex(16),
            msg_type=msg_type,
            chat_id=chat_id,
            create_time=now,
            update_time=now,
            sender=Sender(id=app, id_type="app_id", sender_type="app"),
            body=MessageBody(content=content),
            root_id=root_id,
            parent_id=parent_id,
            thread_id=thread_id,
        )
        self.messages[msg.message_id] = msg
        return msg

    async def get_bot_info(self, *, app_id: str | None = None) -> BotInfo:
        """A bot named after the app."""
        app = self._app(app_id)
        return BotInfo(app_name=app, open_id="ou_" + app, activate_status=2)

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
        """Store a message (one per app and uuid)."""
        check_receiver(receive_id, receive_id_type)
        text = encode_content(msg_type, content)
        app = self._app(app_id)
        if uuid is not None and (app, check_uuid(uuid)) in self._uuids:
            return self.messages[self._uuids[(app, uuid)]]
        chat = receive_id if receive_id_type == "chat_id" else f"oc_p2p_{app}_{receive_id}"
        msg = self._store(app, chat, msg_type, text)
        if uuid is not None:
            self._uuids[(app, uuid)] = msg.message_id
        return msg

    async def send_text(
        self,
        receive_id: str,
        text: str,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Store a text message."""
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
        post: Any,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Store a post message."""
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
        card: Any,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Store a card message."""
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
        """Store a template card message."""
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
        """Upload and store an image message."""
        key = await self.upload_image(image, app_id=app_id)
        return await self.send_message(
            receive_id,
            "image",
            {"image_key": key},
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
        """Upload and store a file (opus: audio) message."""
        data, name = await read_source(file)
        kind = check_file(data, file_name or name, file_type)
        key = await self.upload_file(data, file_name=file_name or name, file_type=kind)
        return await self.send_message(
            receive_id,
            "audio" if kind == "opus" else "file",
            {"file_key": key},
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

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
        """Send to each receiver; failures are kept per receiver."""
        if (text is None) == (content is None) or concurrency < 1:
            raise ConfigError("give either text or msg_type + content, and concurrency ≥ 1")
        kind, body = ("text", {"text": text}) if text is not None else (msg_type or "", content)
        if body is None:  # pragma: no cover - excluded by the check above
            raise ConfigError("give either text or msg_type + content")
        for receive_id in receivers:
            check_receiver(receive_id, receive_id_type)
        out = []
        for receive_id in receivers:
            try:
                msg = await self.send_message(
                    receive_id, kind, body, receive_id_type=receive_id_type, app_id=app_id
                )
                out.append(BatchSendResult(receive_id=receive_id, message=msg))
            except LarkServiceError as exc:
                out.append(BatchSendResult(receive_id=receive_id, error=exc))
        return out

    async def reply_message(
        self,
        message_id: str,
        msg_type: str,
        content: Any,
        *,
        reply_in_thread: bool = False,
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Store a reply under ``message_id``."""
        parent = self._find(message_id)
        if isinstance(content, (PostBuilder, CardBuilder)):
            content = content.build()
        text = encode_content(msg_type, content)
        app = self._app(app_id)
        if uuid is not None and (app, check_uuid(uuid)) in self._uuids:
            return self.messages[self._uuids[(app, uuid)]]
        thread = parent.thread_id
        if reply_in_thread and not thread:
            thread = parent.thread_id = "omt_" + secrets.token_hex(8)
        msg = self._store(
            app,
            parent.chat_id,
            msg_type,
            text,
            root_id=parent.root_id or parent.message_id,
            parent_id=parent.message_id,
            thread_id=thread,
        )
        if uuid is not None:
            self._uuids[(app, uuid)] = msg.message_id
        return msg

    async def reply_text(
        self,
        message_id: str,
        text: str,
        *,
        reply_in_thread: bool = False,
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Store a text reply."""
        return await self.reply_message(
            message_id,
            "text",
            {"text": text},
            reply_in_thread=reply_in_thread,
            app_id=app_id,
            uuid=uuid,
        )

    async def update_message(
        self, message_id: str, msg_type: str, content: Any, *, app_id: str | None = None
    ) -> Message:
        """Edit a text/post message of this app (20 edits at most)."""
        check_message_id(message_id)
        if msg_type not in ("text", "post"):
            raise ConfigError("only text and post messages can be edited; use update_card")
        content = content.build() if isinstance(content, PostBuilder) else content
        text = encode_content(msg_type, content)
        msg = self._own(message_id, app_id)
        if msg.msg_type not in ("text", "post"):
            raise _lark(230054, "This operation is not supported for this message type.")
        if self._edits.get(message_id, 0) >= 20:
            raise _lark(230072, "The message has reached the edit limit.")
        self._edits[message_id] = self._edits.get(message_id, 0) + 1
        msg.msg_type, msg.body, msg.updated = msg_type, MessageBody(content=text), True
        msg.update_time = str(int(self._clock() * 1000))
        return msg

    async def update_text(
        self, message_id: str, text: str, *, app_id: str | None = None
    ) -> Message:
        """Edit a text message."""
        return await self.update_message(message_id, "text", {"text": text}, app_id=app_id)

    async def update_card(self, message_id: str, card: Any, *, app_id: str | None = None) -> None:
        """Replace the card of an interactive message of this app."""
        check_message_id(message_id)
        text = encode_content(
            "interactive", card.build() if isinstance(card, CardBuilder) else card
        )
        msg = self._own(message_id, app_id)
        if msg.msg_type != "interactive":
            raise _lark(230054, "This operation is not supported for this message type.")
        msg.body, msg.updated = MessageBody(content=text), True

    async def recall_message(self, message_id: str, *, app_id: str | None = None) -> None:
        """Mark a message of this app as recalled."""
        msg = self._find(message_id)
        if msg.sender is None or msg.sender.id != self._app(app_id):
            raise _lark(230026, "No permission to recall this message.")
        msg.deleted = True

    async def get_message(self, message_id: str, *, app_id: str | None = None) -> Message:
        """One message, recalled ones included."""
        return self._find(message_id, live=False)

    async def list_messages(
        self,
        container_id: str,
        *,
        container_id_type: str = "chat",
        start_time: int | datetime | None = None,
        end_time: int | datetime | None = None,
        sort_type: str = "ByCreateTimeAsc",
        page_size: int = 50,
        page_token: str | None = None,
        app_id: str | None = None,
    ) -> Page[Message]:
        """One page of a chat's or thread's history."""
        if container_id_type not in CONTAINER_ID_TYPES or not container_id:
            raise ConfigError("container_id_type must be chat or thread, container_id non-empty")
        if sort_type not in SORT_TYPES or not 1 <= page_size <= 50:
            raise ConfigError("bad sort_type or page_size (1 to 50)")
        lo, hi = (_ms(start_time), _ms(end_time))
        field = "chat_id" if container_id_type == "chat" else "thread_id"
        found = [
            m
            for m in self.messages.values()
            if getattr(m, field) == container_id
            and (lo is None or int(m.create_time) >= lo)
            and (hi is None or int(m.create_time) <= hi)
        ]
        if sort_type == "ByCreateTimeDesc":
            found.reverse()
        offset = int(page_token or 0)
        more = offset + page_size < len(found)
        token = str(offset + page_size) if more else None
        return Page(items=found[offset : offset + page_size], page_token=token, has_more=more)

    async def iter_messages(
        self,
        container_id: str,
        *,
        container_id_type: str = "chat",
        start_time: int | datetime | None = None,
        end_time: int | datetime | None = None,
        sort_type: str = "ByCreateTimeAsc",
        page_size: int = 50,
        app_id: str | None = None,
    ) -> AsyncIterator[Message]:
        """Every message of the history."""
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
            )
            for msg in page.items:
                yield msg
            if not page.has_more:
                return
            token = page.page_token
            await asyncio.sleep(0)

    async def upload_image(
        self, image: Source, *, image_type: str = "message", app_id: str | None = None
    ) -> str:
        """Check and remember an image; return its key."""
        data, _ = await read_source(image)
        check_image(data)
        key = "img_v3_" + secrets.token_hex(12)
        self.images[key] = self._app(app_id)
        return key

    async def upload_file(
        self,
        file: Source,
        *,
        file_name: str | None = None,
        file_type: str | None = None,
        duration: int | None = None,
        app_id: str | None = None,
    ) -> str:
        """Check and remember a file; return its key."""
        data, name = await read_source(file)
        check_file(data, file_name or name, file_type)
        key = "file_v3_" + secrets.token_hex(12)
        self.files[key] = self._app(app_id)
        return key


def _ms(value: int | datetime | None) -> int | None:
    if value is None:
        return None
    return (int(value.timestamp()) if isinstance(value, datetime) else int(value)) * 1000


def _lark(code: int, msg: str) -> LarkAPIError:
    """The typed error the client raises for Lark's ``code`` (all im errors are HTTP 400)."""
    return error_from_reply(code=code, msg=msg, http_status=400, api="memory")
