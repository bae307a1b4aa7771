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
