"""The messaging port: the public surface of `MessagingClient` (im/v1), as a Protocol.

Implemented by `lark_service.application.clients.messaging.MessagingClient`; embedders' unit
tests give theirs a `MessagingClient` on ``lark_service.testing.fake_pool`` (the fake Lark in
memory).
Builders (`PostBuilder`, `CardBuilder`) are accepted where they are built into dicts; the
port speaks in those dicts so that the domain does not depend on the application layer.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from lark_service.domain.models.common import Page
from lark_service.domain.models.messaging import BatchSendResult, BotInfo, Message

Source = bytes | str | os.PathLike[str]


class MessagingPort(Protocol):
    """Send, reply to, edit, recall and read messages; upload images and files."""

    async def get_bot_info(self, *, app_id: str | None = None) -> BotInfo: ...

    async def send_text(
        self,
        receive_id: str,
        text: str,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message: ...

    async def send_message(
        self,
        receive_id: str,
        msg_type: str,
        content: str | dict[str, Any],
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message: ...

    async def send_post(
        self,
        receive_id: str,
        post: Any,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message: ...

    async def send_card(
        self,
        receive_id: str,
        card: Any,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message: ...

    async def send_template_card(
        self,
        receive_id: str,
        template_id: str,
        variables: dict[str, Any] | None = None,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message: ...

    async def send_image(
        self,
        receive_id: str,
        image: Source,
        *,
        receive_id_type: str = "chat_id",
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message: ...

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
    ) -> Message: ...

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
    ) -> list[BatchSendResult]: ...

    async def reply_text(
        self,
        message_id: str,
        text: str,
        *,
        reply_in_thread: bool = False,
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message: ...

    async def reply_message(
        self,
        message_id: str,
        msg_type: str,
        content: Any,
        *,
        reply_in_thread: bool = False,
        app_id: str | None = None,
        uuid: str | None = None,
    ) -> Message: ...

    async def update_text(
        self, message_id: str, text: str, *, app_id: str | None = None
    ) -> Message: ...

    async def update_message(
        self, message_id: str, msg_type: str, content: Any, *, app_id: str | None = None
    ) -> Message: ...

    async def update_card(
        self, message_id: str, card: Any, *, app_id: str | None = None
    ) -> None: ...

    async def recall_message(self, message_id: str, *, app_id: str | None = None) -> None: ...

    async def get_message(self, message_id: str, *, app_id: str | None = None) -> Message: ...

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
    ) -> Page[Message]: ...

    def iter_messages(
        self,
        container_id: str,
        *,
        container_id_type: str = "chat",
        start_time: int | datetime | None = None,
        end_time: int | datetime | None = None,
        sort_type: str = "ByCreateTimeAsc",
        page_size: int = 50,
        app_id: str | None = None,
    ) -> AsyncIterator[Message]: ...

    async def upload_image(
        self, image: Source, *, image_type: str = "message", app_id: str | None = None
    ) -> str: ...

    async def upload_file(
        self,
        file: Source,
        *,
        file_name: str | None = None,
        file_type: str | None = None,
        duration: int | None = None,
        app_id: str | None = None,
    ) -> str: ...
