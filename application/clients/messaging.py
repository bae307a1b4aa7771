"""`MessagingClient`: send and manage im/v1 messages."""

from __future__ import annotations

import uuid as uuid_lib

import msgspec

from application.base_client import BaseServiceClient, decode_data, encode_json
from domain.errors import ConfigError
from domain.models.messaging import RECEIVE_ID_TYPES, BotInfo, Message

TEXT_MAX_BYTES = 150 * 1024
UUID_MAX_LEN = 50


class _BotReply(msgspec.Struct):
    bot: BotInfo


def new_uuid() -> str:
    """A dedup uuid for one logical send (Lark keeps one message per uuid for 1 h)."""
    return uuid_lib.uuid4().hex


class MessagingClient(BaseServiceClient):
    """Messages (im/v1) and the bot. Every method takes ``app_id=`` keyword-only."""

    async def get_bot_info(self, *, app_id: str | None = None) -> BotInfo:
        """The bot of the resolved app (``GET /open-apis/bot/v3/info``)."""
        reply = await self._call("GET", "/open-apis/bot/v3/info", api="bot.info", app_id=app_id)
        return decode_data(reply.data, _BotReply, api="bot.info").bot

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
        content = encode_json({"text": text}).decode()
        if len(content.encode()) > TEXT_MAX_BYTES:
            raise ConfigError(f"text content is over Lark's {TEXT_MAX_BYTES // 1024} KB limit")
        return await self.send_message(
            receive_id,
            "text",
            content,
            receive_id_type=receive_id_type,
            app_id=app_id,
            uuid=uuid,
        )

    async def send_message(
        self,
        receive_id: str,
        msg_type: str,
        content: str,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message:
        """Send any msg_type; ``content`` is the JSON string Lark expects."""
        if receive_id_type not in RECEIVE_ID_TYPES:
            raise ConfigError(
                f"receive_id_type must be one of {sorted(RECEIVE_ID_TYPES)}, "
                f"not {receive_id_type!r}"
            )
        if not receive_id:
            raise ConfigError("receive_id is empty")
        dedup = uuid or new_uuid()
        if len(dedup) > UUID_MAX_LEN:
            raise ConfigError(f"uuid is longer than {UUID_MAX_LEN} characters")
        reply = await self._call(
            "POST",
            "/open-apis/im/v1/messages",
            api="im.message.create",
            app_id=app_id,
            query=(("receive_id_type", receive_id_type),),
            json={
                "receive_id": receive_id,
                "msg_type": msg_type,
                "content": content,
                "uuid": dedup,
            },
            idempotent=True,  # the uuid makes a repeat harmless
            rate_family="im.message.send",
            rate_subject=receive_id,
        )
        return decode_data(reply.data, Message, api="im.message.create")
