"""im/v1 messages and the bot, as Lark sends them. Unknown fields are ignored on decode."""

from __future__ import annotations

import msgspec

RECEIVE_ID_TYPES = frozenset({"open_id", "union_id", "user_id", "email", "chat_id"})


class Sender(msgspec.Struct, kw_only=True):
    id: str = ""
    id_type: str = ""
    sender_type: str = ""
    tenant_key: str = ""


class MessageBody(msgspec.Struct, kw_only=True):
    content: str = ""


class Mention(msgspec.Struct, kw_only=True):
    key: str = ""
    id: str = ""
    id_type: str = ""
    name: str = ""
    tenant_key: str = ""


class Message(msgspec.Struct, kw_only=True):
    """A message (``om_…``); ``body.content`` is the JSON string Lark stores."""

    message_id: str
    msg_type: str = ""
    chat_id: str = ""
    root_id: str = ""
    parent_id: str = ""
    thread_id: str = ""
    create_time: str = ""
    update_time: str = ""
    deleted: bool = False
    updated: bool = False
    sender: Sender | None = None
    body: MessageBody | None = None
    mentions: list[Mention] = []
    upper_message_id: str = ""


class BotInfo(msgspec.Struct, kw_only=True):
    """``/open-apis/bot/v3/info``: the bot of the app the call was made as."""

    app_name: str = ""
    open_id: str = ""
    avatar_url: str = ""
    activate_status: int = 0
    ip_white_list: list[str] = []


# --- additions for the full im/v1 client --------------------------------------------------

MSG_TYPES = frozenset(
    {
        "text",
        "post",
        "image",
        "file",
        "audio",
        "media",
        "sticker",
        "interactive",
        "share_chat",
        "share_user",
    }
)
# PUT /messages/:id edits only these; PATCH only updates cards (``interactive``).
EDITABLE_MSG_TYPES = frozenset({"text", "post"})
CONTAINER_ID_TYPES = frozenset({"chat", "thread"})
SORT_TYPES = frozenset({"ByCreateTimeAsc", "ByCreateTimeDesc"})
IMAGE_TYPES = frozenset({"message", "avatar"})
FILE_TYPES = frozenset({"opus", "mp4", "pdf", "doc", "xls", "ppt", "stream"})


class BatchSendResult(msgspec.Struct, kw_only=True):
    """One receiver's outcome of `MessagingClient.send_batch`: ``message`` or ``error``."""

    receive_id: str
    message: Message | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.message is not None
