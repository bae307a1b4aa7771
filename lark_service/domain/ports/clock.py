from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in seconds; injected so token expiry can be tested."""

    def now(self) -> float: ...
