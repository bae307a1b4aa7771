"""Counters kept by the rate limiter, for the Metrics port to export."""

from __future__ import annotations

from collections import Counter, defaultdict


class LimiterStats:
    """What the limiter did: waits by (app, family), store round trips, fallbacks.

    Plain counters on the limiter object (read them, or export them as gauges/counters):
    ``waits`` and ``wait_seconds`` by ``(app_id, family)``; ``round_trips`` to the shared
    store and ``store_errors`` among them; ``tokens_granted`` / ``tokens_returned``;
    ``fallbacks`` (times the store became unreachable) and ``fallback_calls`` (calls shaped
    by the local share meanwhile); ``rate_limited`` (Lark's 99991400 seen anyway).
    """

    __slots__ = (
        "fallback_calls",
        "fallbacks",
        "rate_limited",
        "round_trips",
        "store_errors",
        "tokens_granted",
        "tokens_returned",
        "wait_seconds",
        "waits",
    )

    def __init__(self) -> None:
        self.waits: Counter[tuple[str, str]] = Counter()
        self.wait_seconds: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.round_trips = 0
        self.store_errors = 0
        self.tokens_granted = 0
        self.tokens_returned = 0
        self.fallbacks = 0
        self.fallback_calls = 0
        self.rate_limited = 0

    def waited(self, app_id: str, family: str, seconds: float) -> None:
        if seconds > 0:
            self.waits[(app_id, family)] += 1
            self.wait_seconds[(app_id, family)] += seconds
