"""Fake edits of sent messages: PUT (text/post), PATCH (cards) and DELETE (recall).

Errors (see `lark_service.testing.fake_lark.im`): 230011 recalled, 230012 not the sender (edit, card
update), 230026 recall of another sender's message, 230009 recall after 24 h, 230054 the
operation does not fit the message type, 230072 a 21st edit (UNCONFIRMED).
"""

from __future__ import annotations

from typing import Any

from lark_service.testing.fake_lark.bot import json_body
from lark_service.testing.fake_lark.im_rules import bad, check_content
from lark_service.testing.fake_lark.im_state import ImState, view
from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest
from lark_service.testing.fake_lark.server import HandlerResult

EDIT_MAX = 20
RECALL_WINDOW_S = 24 * 3600
_PATH = "/open-apis/im/v1/messages/{message_id}"


def _unsupported() -> FakeLarkError:
    return FakeLarkError(400, 230054, "This operation is not supported for this message type.")


def register_edits(im: ImState) -> None:
    """Register PUT, PATCH and DELETE on a message."""
    fake, state = im.fake, im.state

    def own_live(req: FakeRequest, app_id: str) -> dict[str, Any]:
        msg = im.live(req.path_params["message_id"])
        if msg["app_id"] != app_id:
            raise FakeLarkError(400, 230012, "Bot is NOT the sender of the message.")
        im.in_chat(app_id, msg["chat_id"])
        return msg

    def touch(msg: dict[str, Any], content: str) -> None:
        msg["content"] = content
        msg["updated"] = True
        msg["update_time"] = str(int(fake.now() * 1000))

    @fake.route("PUT", _PATH)
    async def update(req: FakeRequest) -> HandlerResult:
        app_id, _ = im.caller(req)
        im.limits().check(app_id, "im.message.update", None)
        msg = own_live(req, app_id)
        if msg["msg_type"] not in ("text", "post"):
            raise _unsupported()
        body = json_body(req)
        msg_type, content = body.get("msg_type"), body.get("content")
        if msg_type not in ("text", "post"):
            raise bad("msg_type must be text or post")
        check_content(state, app_id, msg_type, content)
        if msg.get("edits", 0) >= EDIT_MAX:
            raise FakeLarkError(
                400, 230072, "The message has reached the number of times it can be edited."
            )
        msg["edits"] = msg.get("edits", 0) + 1
        msg["msg_type"] = msg_type
        touch(msg, content)  # type: ignore[arg-type]
        return view(msg)

    @fake.route("PATCH", _PATH)
    async def patch_card(req: FakeRequest) -> HandlerResult:
        app_id, _ = im.caller(req)
        im.limits().check(app_id, "im.message.patch", None)
        msg = own_live(req, app_id)
        if msg["msg_type"] != "interactive":
            raise _unsupported()
        content = json_body(req).get("content")
        check_content(state, app_id, "interactive", content)
        touch(msg, content)  # type: ignore[arg-type]
        return {}

    @fake.route("DELETE", _PATH)
    async def recall(req: FakeRequest) -> HandlerResult:
        app_id, _ = im.caller(req)
        im.limits().check(app_id, "im.message.delete", None)
        msg = im.live(req.path_params["message_id"])
        if msg["app_id"] != app_id:
            raise FakeLarkError(400, 230026, "No permission to recall this message.")
        im.in_chat(app_id, msg["chat_id"])
        if fake.now() - int(msg["create_time"]) / 1000 > RECALL_WINDOW_S:
            raise FakeLarkError(400, 230009, "Message can only be recalled within one days.")
        msg["deleted"] = True
        return {}
