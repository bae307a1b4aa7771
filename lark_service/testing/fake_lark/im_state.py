"""What the fake im routes share: the calling app, the test switches, message lookup.

Test switches in ``fake.state`` (cleared on reset): ``im_denied_apps`` (set of app ids →
99991672 on every im call), ``im_bot_not_in_chat`` (set of ``(app_id, chat_id)`` → 230002),
``im_rate_scale`` (float, default 1.0; 0 disables the limits; see `im_rules`).
"""

from __future__ import annotations

from typing import Any

from lark_service.testing.fake_lark.bot import message_view
from lark_service.testing.fake_lark.im_rules import RateLimits, bad
from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest
from lark_service.testing.fake_lark.server import FakeLark

_STATE_KEYS = (
    "im_denied_apps",
    "im_bot_not_in_chat",
    "im_rate_scale",
    "im_rate_clock",
    "im_images",
    "im_files",
    "im_limits",
)
DENIED = (
    "Access denied. One of the following scopes is required: [im:message, im:message:send_as_bot]"
)


def view(msg: dict[str, Any]) -> dict[str, Any]:
    """`message_view` plus the thread_id a reply in a thread has."""
    out = message_view(msg)
    if msg.get("thread_id"):
        out["thread_id"] = msg["thread_id"]
    return out


class ImState:
    """The fake's im state and the checks every im route makes."""

    def __init__(self, fake: FakeLark) -> None:
        self.fake = fake
        self.state = fake.state
        fake.on_reset(self._forget)

    def _forget(self) -> None:
        for key in _STATE_KEYS:
            self.state.pop(key, None)

    def limits(self) -> RateLimits:
        found: RateLimits | None = self.state.get("im_limits")
        if found is None:
            found = self.state["im_limits"] = RateLimits(self.state)
        return found

    def caller(self, req: FakeRequest) -> tuple[str, str]:
        """The calling app and tenant (tenant token only; 99991672 when denied)."""
        token = self.fake.require_token(req, kinds=("tenant",))
        if token.app_id in self.state.get("im_denied_apps", ()):
            raise FakeLarkError(400, 99991672, DENIED)
        return token.app_id, token.tenant_key

    def in_chat(self, app_id: str, chat_id: str) -> None:
        if (app_id, chat_id) in self.state.get("im_bot_not_in_chat", ()):
            raise FakeLarkError(400, 230002, "The bot can not be outside the group.")

    def find(self, message_id: str) -> dict[str, Any]:
        for msg in reversed(self.fake.messages):
            if msg["message_id"] == message_id:
                found: dict[str, Any] = msg
                return found
        raise bad("message_id not found")

    def live(self, message_id: str) -> dict[str, Any]:
        msg = self.find(message_id)
        if msg.get("deleted"):
            raise FakeLarkError(400, 230011, "The message is recalled.")
        return msg
