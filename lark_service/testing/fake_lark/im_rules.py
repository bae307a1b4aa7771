"""Rules of the fake im/v1 API: content shapes, size limits and Lark's frequency limits.

Content (DOC …/im-v1/message/create_json): ``content`` is a JSON string whose object fits
``msg_type``: text ``{"text"}``; post ``{"zh_cn"|"en_us"|"ja_jp": {"title", "content":
[[{"tag", ...}]]}}`` (no outer ``post`` key); image ``{"image_key"}`` uploaded by the same
app; file/audio ``{"file_key"}`` uploaded by the same app (audio: an opus file); media
``{"file_key", "image_key"?}``; sticker ``{"file_key"}``; share_chat ``{"chat_id"}``;
share_user ``{"user_id"}``; interactive a v1 card (``elements``/``i18n_elements``), a v2 card
(``schema: "2.0"`` + ``body``) or a template ``{"type": "template", "data": {"template_id"}}``.
A bad shape answers 230001; a card of none of these shapes 230099 (card build failed). Text
over 150 KB, post or card over 30 KB answer 230025.

Frequency limits (reference §3 and the frequency-control doc): per app and API 50/s and
1000/min; per receiver (the chat a message lands in, a user's p2p chat included) 5/s shared
by sends and replies. Each limit is scaled by ``fake.state["im_rate_scale"]`` (default 1.0;
0 turns limits off). Exceeding one answers HTTP 429, code 99991400, with headers
``x-ogw-ratelimit-limit`` (the limit hit) and ``x-ogw-ratelimit-reset`` (whole seconds,
at least 1). Chosen where Lark is silent: Lark does not publish its algorithm; the fake uses
token buckets (capacity = the limit, refilled continuously over the window), the usual
gateway model. Unlike a strict sliding window measured at arrival, a bucket does not punish a
client that keeps to "N per window" at *send* time for the network jitter between its
requests. Windows run on the serving event loop's clock (``time.monotonic`` under uvicorn;
the caller's loop in process, so a test on virtual time sees its own sleeps) or on
``fake.state["im_rate_clock"]``, not on the fake's clock, because that clock stands still
unless a test advances it or the fake runs with ``realtime=True``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import msgspec

from lark_service.testing.fake_lark.models import FakeLarkError

TEXT_MAX = 150 * 1024
RICH_MAX = 30 * 1024
POST_LANGS = frozenset({"zh_cn", "en_us", "ja_jp"})
APP_PER_SECOND = 50
APP_PER_MINUTE = 1000
RECEIVER_PER_SECOND = 5


def bad(msg: str, code: int = 230001) -> FakeLarkError:
    return FakeLarkError(400, code, f"param is invalid: {msg}" if code == 230001 else msg)


def check_content(
    state: dict[str, Any], app_id: str, msg_type: str, content: object
) -> dict[str, Any]:
    """Validate ``content`` (the JSON string) for ``msg_type``; return the decoded object."""
    if not isinstance(content, str):
        raise bad("content must be a JSON string")
    size = len(content.encode())
    if (msg_type == "text" and size > TEXT_MAX) or (
        msg_type in ("post", "interactive") and size > RICH_MAX
    ):
        raise FakeLarkError(400, 230025, "The message content is too long")
    try:
        obj = msgspec.json.decode(content)
    except msgspec.DecodeError:
        raise bad("content is not valid JSON") from None
    if not isinstance(obj, dict):
        raise bad("content must be a JSON object")
    images: dict[str, str] = state.setdefault("im_images", {})
    files: dict[str, dict[str, str]] = state.setdefault("im_files", {})

    def str_field(name: str) -> str:
        value = obj.get(name)
        if not isinstance(value, str) or not value:
            raise bad(f"{msg_type} content needs {name!r}")
        return value

    def own_file(key: str) -> dict[str, str]:
        meta = files.get(key)
        if meta is None or meta["app_id"] != app_id:
            raise bad(f"file_key {key!r} was not uploaded by this app")
        return meta

    if msg_type == "text":
        str_field("text")
    elif msg_type == "post":
        _check_post(obj)
    elif msg_type == "image":
        if images.get(str_field("image_key")) != app_id:
            raise bad("image_key was not uploaded by this app")
    elif msg_type in ("file", "audio"):
        meta = own_file(str_field("file_key"))
        if msg_type == "audio" and meta["file_type"] != "opus":
            raise bad("an audio message needs an opus file")
    elif msg_type == "media":
        own_file(str_field("file_key"))
        cover = obj.get("image_key")
        if cover is not None and images.get(cover) != app_id:
            raise bad("image_key was not uploaded by this app")
    elif msg_type == "sticker":
        str_field("file_key")
    elif msg_type == "share_chat":
        if not str_field("chat_id").startswith("oc_"):
            raise bad("share_chat needs a chat_id")
    elif msg_type == "share_user":
        str_field("user_id")
    elif msg_type == "interactive" and not _is_card(obj):
        raise FakeLarkError(400, 230099, "Failed to create card content")
    return obj


def _check_post(obj: dict[str, Any]) -> None:
    if not obj or not set(obj) <= POST_LANGS:
        raise bad("post content is keyed by zh_cn, en_us or ja_jp")
    for body in obj.values():
        paragraphs = body.get("content") if isinstance(body, dict) else None
        if not isinstance(paragraphs, list):
            raise bad("post content needs a list of paragraphs")
        for paragraph in paragraphs:
            if not isinstance(paragraph, list) or not all(
                isinstance(run, dict) and isinstance(run.get("tag"), str) for run in paragraph
            ):
                raise bad("a post paragraph is a list of {tag, ...} runs")


def _is_card(obj: dict[str, Any]) -> bool:
    if obj.get("type") == "template":
        data = obj.get("data")
        return isinstance(data, dict) and isinstance(data.get("template_id"), str)
    if obj.get("schema") == "2.0":
        return isinstance(obj.get("body"), dict)
    return isinstance(obj.get("elements"), list) or isinstance(obj.get("i18n_elements"), dict)


class _Bucket:
    __slots__ = ("capacity", "last", "limit", "rate", "tokens")

    def __init__(self, limit: int, capacity: int, window: float, now: float) -> None:
        self.limit = limit
        self.capacity = float(capacity)
        self.rate = capacity / window
        self.tokens = float(capacity)
        self.last = now

    def wait(self, now: float) -> float:
        """Refill to ``now``; seconds until one token is available (0 if one is)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class RateLimits:
    """Lark's im frequency limits as token buckets, scaled by ``state["im_rate_scale"]``."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state
        self._buckets: dict[tuple[str, ...], _Bucket] = {}

    def check(self, app_id: str, api: str, receiver: str | None) -> None:
        """Take one call of ``api`` for ``app_id`` (and ``receiver``) or raise the 429."""
        scale = self._state.get("im_rate_scale", 1.0)
        if not scale:
            return
        clock: Callable[[], float] = self._state.get("im_rate_clock") or _loop_time
        now = clock()
        specs: list[tuple[tuple[str, ...], int, float]] = [
            ((app_id, api, "s"), APP_PER_SECOND, 1.0),
            ((app_id, api, "m"), APP_PER_MINUTE, 60.0),
        ]
        if receiver is not None:
            specs.append((("receiver", receiver), RECEIVER_PER_SECOND, 1.0))
        buckets = []
        for key, limit, window in specs:
            capacity = max(1, round(limit * scale))
            bucket = self._buckets.get(key)
            if bucket is None or bucket.capacity != capacity:
                bucket = self._buckets[key] = _Bucket(limit, capacity, window, now)
            wait = bucket.wait(now)
            if wait > 0:
                reset = max(1, math.ceil(wait))
                headers = {
                    "x-ogw-ratelimit-limit": str(capacity),
                    "x-ogw-ratelimit-reset": str(reset),
                }
                raise FakeLarkError(
                    429, 99991400, "request trigger frequency limit", headers=headers
                )
            buckets.append(bucket)
        for bucket in buckets:
            bucket.tokens -= 1.0
