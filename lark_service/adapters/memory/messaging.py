"""`InMemoryMessaging`: a dict-backed `MessagingPort` for embedders' unit tests.

It applies the client's own input checks (the same `ConfigError`s) and Lark's behaviour on
the main operations: uuid dedup per app, replies with root/parent/thread ids, edits of
text/post only by the sending app (20 at most), card updates of interactive messages only,
recall marking ``deleted``, history per chat with time filters, sort and pages of ≤50.
Errors are the typed errors the client raises for Lark's codes (230001 for an unknown message,
230011 for a recalled one, 230012/230026 for another app's
message). No rate limits, no network. ``messages`` holds every stored message.
The typed sends, batches, ``reply_text``, ``update_text`` and ``iter_messages`` are the
client's own (`lark_service.application.clients.im_shortcuts.MessagingShortcuts`) over the
primitives here.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from lark_service.adapters.memory.paging import page_of
from lark_service.application.clients.im_content import (
    Source,
    card_content,
    check_history,
    check_message_id,
    check_receiver,
    check_uuid,
    edit_content,
    encode_content,
    read_file,
    read_image,
    reply_content,
    unix_seconds,
)
from lark_service.application.clients.im_shortcuts import MessagingShortcuts
from lark_service.domain.errors import LarkAPIError, error_from_reply
from lark_service.domain.models.common import Page
from lark_service.domain.models.messaging import (
    EDITABLE_MSG_TYPES,
    BotInfo,
    Message,
    MessageBody,
    Sender,
)

EDIT_MAX = 20


class InMemoryMessaging(MessagingShortcuts):
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

    def _sent(self, app: str, uuid: str | None) -> Message | None:
        """The message ``app`` already sent with ``uuid`` (checked), if any."""
        if uuid is None or (app, check_uuid(uuid)) not in self._uuids:
            return None
        return self.messages[self._uuids[(app, uuid)]]

    def _store(
        self,
        app: str,
        uuid: str | None,
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
        if uuid is not None:
            self._uuids[(app, uuid)] = msg.message_id
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
        sent = self._sent(app, uuid)
        if sent is not None:
            return sent
        chat = receive_id if receive_id_type == "chat_id" else f"oc_p2p_{app}_{receive_id}"
        return self._store(app, uuid, chat, msg_type, text)

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
        text = reply_content(msg_type, content)
        app = self._app(app_id)
        sent = self._sent(app, uuid)
        if sent is not None:
            return sent
        thread = parent.thread_id
        if reply_in_thread and not thread:
            thread = parent.thread_id = "omt_" + secrets.token_hex(8)
        return self._store(
            app,
            uuid,
            parent.chat_id,
            msg_type,
            text,
            root_id=parent.root_id or parent.message_id,
            parent_id=parent.message_id,
            thread_id=thread,
        )

    async def update_message(
        self, message_id: str, msg_type: str, content: Any, *, app_id: str | None = None
    ) -> Message:
        """Edit a text/post message of this app (20 edits at most)."""
        check_message_id(message_id)
        text = edit_content(msg_type, content)
        msg = self._own(message_id, app_id)
        if msg.msg_type not in EDITABLE_MSG_TYPES:
            raise _lark(230054, "This operation is not supported for this message type.")
        if self._edits.get(message_id, 0) >= EDIT_MAX:
            raise _lark(230072, "The message has reached the edit limit.")
        self._edits[message_id] = self._edits.get(message_id, 0) + 1
        msg.msg_type, msg.body, msg.updated = msg_type, MessageBody(content=text), True
        msg.update_time = str(int(self._clock() * 1000))
        return msg

    async def update_card(self, message_id: str, card: Any, *, app_id: str | None = None) -> None:
        """Replace the card of an interactive message of this app."""
        check_message_id(message_id)
        text = card_content(card)
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
        check_history(container_id, container_id_type, sort_type, page_size)
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
        return page_of(found, page_size, page_token)

    async def upload_image(
        self, image: Source, *, image_type: str = "message", app_id: str | None = None
    ) -> str:
        """Check and remember an image; return its key."""
        await read_image(image, image_type)
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
        await read_file(file, file_name, file_type)
        key = "file_v3_" + secrets.token_hex(12)
        self.files[key] = self._app(app_id)
        return key


def _ms(value: int | datetime | None) -> int | None:
    seconds = unix_seconds(value)
    return None if seconds is None else seconds * 1000


def _lark(code: int, msg: str) -> LarkAPIError:
    """The typed error the client raises for Lark's ``code`` (all im errors are HTTP 400)."""
    return error_from_reply(code=code, msg=msg, http_status=400, api="memory")
