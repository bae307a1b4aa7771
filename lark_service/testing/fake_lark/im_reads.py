"""Fake reads of messages: GET one message and GET the history of a chat or thread.

The page_token is the decimal offset into the filtered list (UNCONFIRMED); page_size
defaults to 20, at most 50; start/end times are Unix seconds. A recalled message is returned
with ``deleted: true`` by both.
"""

from __future__ import annotations

from lark_service.testing.fake_lark.im_rules import bad
from lark_service.testing.fake_lark.im_state import ImState, view
from lark_service.testing.fake_lark.models import FakeRequest
from lark_service.testing.fake_lark.server import HandlerResult

PAGE_MAX = 50


def register_reads(im: ImState) -> None:
    """Register GET on a message and on the message list."""
    fake = im.fake

    @fake.route("GET", "/open-apis/im/v1/messages/{message_id}")
    async def get_message(req: FakeRequest) -> HandlerResult:
        app_id, _ = im.caller(req)
        msg = im.find(req.path_params["message_id"])
        im.in_chat(app_id, msg["chat_id"])
        return {"items": [view(msg)]}

    @fake.route("GET", "/open-apis/im/v1/messages")
    async def list_messages(req: FakeRequest) -> HandlerResult:
        app_id, _ = im.caller(req)
        q = req.query
        kind, container = q.get("container_id_type", ""), q.get("container_id", "")
        if kind not in ("chat", "thread") or not container:
            raise bad("container_id_type / container_id")
        sort = q.get("sort_type", "ByCreateTimeAsc")
        if sort not in ("ByCreateTimeAsc", "ByCreateTimeDesc"):
            raise bad("sort_type")
        try:
            size = int(q.get("page_size", "20"))
            offset = int(q.get("page_token") or 0)
            start = int(q["start_time"]) * 1000 if q.get("start_time") else None
            end = int(q["end_time"]) * 1000 if q.get("end_time") else None
        except ValueError:
            raise bad("page_size / page_token / start_time / end_time") from None
        if not 1 <= size <= PAGE_MAX or offset < 0:
            raise bad("page_size must be 1 to 50")
        field = "chat_id" if kind == "chat" else "thread_id"
        found = [m for m in fake.messages if m.get(field) == container]
        if kind == "chat" and found:
            im.in_chat(app_id, container)
        found = [
            m
            for m in found
            if (start is None or int(m["create_time"]) >= start)
            and (end is None or int(m["create_time"]) <= end)
        ]
        if sort == "ByCreateTimeDesc":  # newest first; equal times in reverse send order
            found.reverse()
            found.sort(key=lambda m: -int(m["create_time"]))
        else:
            found.sort(key=lambda m: int(m["create_time"]))
        page = found[offset : offset + size]
        more = offset + size < len(found)
        return {
            "has_more": more,
            "page_token": str(offset + size) if more else "",
            "items": [view(m) for m in page],
        }
