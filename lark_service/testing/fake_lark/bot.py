"""Bot info as Lark serves it, and the message records `im` builds on.

``GET /open-apis/bot/v3/info`` (tenant token) answers, like Lark, with ``bot`` at the top
level instead of under ``data``: ``{"code":0,"msg":"ok","bot":{"activate_status":2,
"app_name","avatar_url","ip_white_list":[],"open_id":"ou_…"}}``. ``app_name`` is the app's
name in the fake (its app_id when none was given) and ``open_id`` is stable per app.

The message helpers here (records, views, uuid dedup, p2p chat ids) are shared by the
``im`` modules, which serve the message endpoints. Messages live in ``fake.messages`` and the
uuid index in ``fake.message_uuids``. Chosen where Lark is silent: a message to a user lands
in a p2p chat whose chat_id is derived from (app, receive_id).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest
from lark_service.testing.fake_lark.server import FakeLark, HandlerResult

RECEIVE_ID_TYPES = frozenset({"open_id", "union_id", "user_id", "email", "chat_id"})
# what an app may send ("system" messages are Lark's own)
SENDABLE_MSG_TYPES = frozenset(
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
UUID_WINDOW_MS = 3600 * 1000


def bad_param(msg: str) -> FakeLarkError:
    return FakeLarkError(400, 230001, f"param is invalid: {msg}")


def p2p_chat_id(app_id: str, receive_id: str) -> str:
    return "oc_" + hashlib.sha256(f"p2p:{app_id}:{receive_id}".encode()).hexdigest()[:32]


def message_view(msg: dict[str, Any]) -> dict[str, Any]:
    """The Message shape Lark returns for a stored message."""
    return {
        "message_id": msg["message_id"],
        "root_id": msg.get("root_id", ""),
        "parent_id": msg.get("parent_id", ""),
        "msg_type": msg["msg_type"],
        "create_time": msg["create_time"],
        "update_time": msg.get("update_time", msg["create_time"]),
        "deleted": msg.get("deleted", False),
        "updated": msg.get("updated", False),
        "chat_id": msg["chat_id"],
        "sender": {
            "id": msg["app_id"],
            "id_type": "app_id",
            "sender_type": "app",
            "tenant_key": msg.get("tenant_key", ""),
        },
        "body": {"content": msg["content"]},
    }


def store_message(fake: FakeLark, msg: dict[str, Any]) -> dict[str, Any]:
    """Append ``msg`` (adding message_id, create/update_time) and index its uuid."""
    now_ms = str(int(fake.now() * 1000))
    msg.setdefault("message_id", "om_" + secrets.token_hex(16))
    msg.setdefault("create_time", now_ms)
    msg.setdefault("update_time", now_ms)
    fake.messages.append(msg)
    if msg.get("uuid"):
        fake.message_uuids[(msg["app_id"], msg["uuid"])] = msg
    return msg


def json_body(req: FakeRequest) -> dict[str, Any]:
    """The request's JSON object (230001 otherwise)."""
    body = req.json()
    if not isinstance(body, dict):
        raise bad_param("body")
    return body


def checked_uuid(uuid: object) -> str:
    """A send's dedup uuid: absent (→ "") or a string of at most 50 characters."""
    if uuid is not None and (not isinstance(uuid, str) or len(uuid) > 50):
        raise bad_param("uuid")
    return uuid or ""


def new_record(
    app_id: str,
    tenant_key: str,
    receive_id: str,
    receive_id_type: str,
    chat_id: str,
    msg_type: str,
    content: object,
    uuid: str,
) -> dict[str, Any]:
    """A message record as `store_message` keeps it, before its id and times."""
    return {
        "app_id": app_id,
        "tenant_key": tenant_key,
        "receive_id": receive_id,
        "receive_id_type": receive_id_type,
        "chat_id": chat_id,
        "msg_type": msg_type,
        "content": content,
        "uuid": uuid,
        "root_id": "",
        "parent_id": "",
        "deleted": False,
        "updated": False,
    }


def find_by_uuid(fake: FakeLark, app_id: str, uuid: str | None) -> dict[str, Any] | None:
    if not uuid:
        return None
    found = fake.message_uuids.get((app_id, uuid))
    if found is None or fake.now() * 1000 - int(found["create_time"]) >= UUID_WINDOW_MS:
        return None
    return found


def register(fake: FakeLark) -> None:
    @fake.route("GET", "/open-apis/bot/v3/info")
    async def bot_info(req: FakeRequest) -> HandlerResult:
        token = fake.require_token(req, kinds=("tenant",))
        app = fake.get_app(token.app_id)
        bot = {
            "activate_status": 2,
            "app_name": app.name,
            "avatar_url": f"https://fake-lark.invalid/avatar/{app.app_id}.png",
            "ip_white_list": [],
            "open_id": app.open_id,
        }
        return 200, {"code": 0, "msg": "ok", "bot": bot}
