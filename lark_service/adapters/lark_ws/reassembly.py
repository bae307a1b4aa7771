"""Multi-part payloads: Lark splits a large one into ``sum`` frames numbered ``seq`` 0..sum-1,
all with one ``message_id``. Parts are kept ``ttl`` seconds (Lark's SDKs: 5 s) from the first
part; a message not complete by then is dropped (Lark, getting no answer, sends it again)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lark_service.adapters.lark_ws.frames import FrameError

__all__ = ["DEFAULT_PART_TTL", "MAX_PARTS", "Reassembler"]

DEFAULT_PART_TTL = 5.0
MAX_PARTS = 1024  # far above what Lark sends; bounds the memory one message id can hold


@dataclass(slots=True)
class _Pending:
    expires_at: float
    parts: list[bytes | None] = field(default_factory=list)


class Reassembler:
    """Collects parts by message id; `add` returns the whole payload once complete."""

    def __init__(
        self, *, ttl: float = DEFAULT_PART_TTL, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._now = now
        self._pending: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, message_id: str, total: int, seq: int, payload: bytes) -> bytes | None:
        """Keep part ``seq`` of ``total``; the joined payload when it was the last missing."""
        if total <= 1:
            return payload
        if total > MAX_PARTS or not 0 <= seq < total:
            raise FrameError(f"long connection: part {seq} of {total} is out of range")
        now = self._now()
        self._expire(now)
        pending = self._pending.get(message_id)
        if pending is None or len(pending.parts) != total:
            pending = _Pending(now + self._ttl, [None] * total)
            self._pending[message_id] = pending
        pending.parts[seq] = payload
        if any(part is None for part in pending.parts):
            return None
        del self._pending[message_id]
        return b"".join(part for part in pending.parts if part is not None)

    def _expire(self, now: float) -> None:
        stale = [key for key, pending in self._pending.items() if pending.expires_at <= now]
        for key in stale:
            del self._pending[key]
