"""Fake im/v1 messages, replies, edits, recalls, history and uploads (tenant token only).

Routes (lark-api-reference.md §3): POST/GET ``/open-apis/im/v1/messages`` (this send
replaces bot.py's minimal one and keeps its state: ``fake.messages``,
``fake.message_uuids``), POST ``…/{message_id}/reply``, GET / PUT / PATCH / DELETE
``…/{message_id}``, POST ``/open-apis/im/v1/images`` and ``/open-apis/im/v1/files``. Content
rules and frequency limits are in `lark_service.testing.fake_lark.im_rules`; edits and recalls in
`im_edits`, reads in `im_reads`, uploads in `im_files`, the shared checks in `im_state`.

Test switches in ``fake.state`` (cleared on reset): ``im_denied_apps`` (set of app ids →
99991672 on every im call), ``im_bot_not_in_chat`` (set of ``(app_id, chat_id)`` → 230002),
``im_rate_scale`` (float, default 1.0; 0 disables the limits).

Errors, all HTTP 400 unless said: 230001 bad param; 230002 bot not in chat; 230009 recall after
24 h; 230011 the message was recalled; 230012 the bot is not the sender (edit, card update);
230025 content too long; 230026 recall of another sender's message; 230034 a chat_id that is
not ``oc_…``; 230054 operation not supported for the message type; 230099 bad card; 234001 bad
upload param, 234006 upload too large, 234010 empty upload, 234011 unknown image format.
Chosen where Lark's docs are silent (UNCONFIRMED): an unknown message_id answers 230001
``message_id not found``; editing a message a 21st time answers 230072; a recalled message
keeps its content and is returned with ``deleted: true`` by GET and by the history list; a
user's messages land in a p2p chat derived from (app, receiver); the page_token is the
decimal offset into the filtered list; page_size defaults to 20, at most 50.
"""

from __future__ import annotations

import secrets

from lark_service.testing.fake_lark.bot import (
    RECEIVE_ID_TYPES,
    SENDABLE_MSG_TYPES,
    checked_uuid,
    find_by_uuid,
    json_body,
    new_record,
    p2p_chat_id,
    store_message,
)
from lark_service.testing.fake_lark.im_edits import register_edits
from lark_service.testing.fake_lark.im_files import register_uploads
from lark_service.testing.fake_lark.im_reads import register_reads
from lark_service.testing.fake_lark.im_rules import bad, check_content
from lark_service.testing.fake_lark.im_state import ImState, view
from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest
from lark_service.testing.fake_lark.server import FakeLark, HandlerResult

__all__ = ["MSG_TYPES", "RECEIVE_ID_TYPES", "register"]

MSG_TYPES = SENDABLE_MSG_TYPES


def register(fake: FakeLark) -> None:
    """Register the im routes on ``fake``."""
    im = ImState(fake)
    state = fake.state

    @fake.route("POST", "/open-apis/im/v1/messages")
    async def create_message(req: FakeRequest) -> HandlerResult:
        app_id, tenant_key = im.caller(req)
        id_type = req.query.get("receive_id_type", "")
        if id_type not in RECEIVE_ID_TYPES:
            raise bad("receive_id_type")
        body = json_body(req)
        receive_id, msg_type = body.get("receive_id"), body.get("msg_type")
        if not isinstance(receive_id, str) or not receive_id:
            raise bad("receive_id")
        if id_type == "chat_id" and not receive_id.startswith("oc_"):
            raise FakeLarkError(400, 230034, "The receive_id is invalid.")
        chat_id = receive_id if id_type == "chat_id" else p2p_chat_id(app_id, receive_id)
        im.limits().check(app_id, "im.message.create", chat_id)
        if msg_type not in MSG_TYPES:
            raise bad("msg_type")
        content = body.get("content")
        check_content(state, app_id, msg_type, content)
        uuid = checked_uuid(body.get("uuid"))
        im.in_chat(app_id, chat_id)
        existing = find_by_uuid(fake, app_id, uuid)
        if existing is not None:
            return view(existing)
        record = new_record(
            app_id, tenant_key, receive_id, id_type, chat_id, msg_type, content, uuid
        )
        return view(store_message(fake, record))

    @fake.route("POST", "/open-apis/im/v1/messages/{message_id}/reply")
    async def reply(req: FakeRequest) -> HandlerResult:
        app_id, tenant_key = im.caller(req)
        parent = im.live(req.path_params["message_id"])
        chat_id = parent["chat_id"]
        im.limits().check(app_id, "im.message.reply", chat_id)
        body = json_body(req)
        msg_type, content = body.get("msg_type"), body.get("content")
        if msg_type not in MSG_TYPES:
            raise bad("msg_type")
        check_content(state, app_id, msg_type, content)
        uuid = checked_uuid(body.get("uuid"))
        im.in_chat(app_id, chat_id)
        existing = find_by_uuid(fake, app_id, uuid)
        if existing is not None:
            return view(existing)
        thread_id = parent.get("thread_id", "")
        if body.get("reply_in_thread") and not thread_id:
            thread_id = parent["thread_id"] = "omt_" + secrets.token_hex(8)
        record = new_record(
            app_id, tenant_key, chat_id, "chat_id", chat_id, msg_type, content, uuid
        )
        record["root_id"] = parent["root_id"] or parent["message_id"]
        record["parent_id"] = parent["message_id"]
        record["thread_id"] = thread_id
        return view(store_message(fake, record))

    register_edits(im)
    register_reads(im)
    register_uploads(fake, im.caller, im.limits)
