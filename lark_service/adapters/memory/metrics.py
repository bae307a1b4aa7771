from __future__ import annotations

from collections import Counter

from lark_service.domain.ports.metrics import (
    LimiterCounts,
    LimiterCountsSource,
    Metrics,
    SendJobOutcome,
    TokenExpiry,
    TokenExpirySource,
)


class InMemoryMetrics(Metrics):
    """Counts what happened, for tests and for `lark-service demo`."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str, str]] = Counter()
        self.call_seconds: list[float] = []
        self.token_fetches: Counter[tuple[str, str, str]] = Counter()
        self.token_refreshes: Counter[tuple[str, str, str]] = Counter()
        self.retries: Counter[tuple[str, str, str]] = Counter()
        self.rate_limits: Counter[tuple[str, str]] = Counter()
        self.limiter_waits: Counter[tuple[str, str]] = Counter()
        self.limiter_wait_seconds: dict[tuple[str, str], float] = {}
        self.http_requests: Counter[tuple[str, str, int]] = Counter()
        self.events_received: Counter[tuple[str, str]] = Counter()
        self.events_rejected: Counter[tuple[str, str, str]] = Counter()
        self.events_deduplicated: Counter[tuple[str, str]] = Counter()
        self.send_jobs: Counter[tuple[str, str]] = Counter()
        self.queue_depths: dict[str, int] = {}
        self._expiry_source: TokenExpirySource | None = None
        self._limiter_source: LimiterCountsSource | None = None

    def api_call(self, *, app_id: str, api: str, outcome: str, seconds: float) -> None:
        self.calls[(app_id, api, outcome)] += 1
        self.call_seconds.append(seconds)

    def retry(self, *, app_id: str, api: str, reason: str) -> None:
        self.retries[(app_id, api, reason)] += 1

    def rate_limited(self, *, app_id: str, api: str, reset: float | None = None) -> None:
        self.rate_limits[(app_id, api)] += 1

    def token_fetch(self, *, app_id: str, kind: str, outcome: str) -> None:
        self.token_fetches[(app_id, kind, outcome)] += 1

    def token_refresh(self, *, app_id: str, kind: str, outcome: str) -> None:
        self.token_refreshes[(app_id, kind, outcome)] += 1

    def watch_token_expiry(self, source: TokenExpirySource) -> None:
        self._expiry_source = source

    def token_expiries(self) -> list[TokenExpiry]:
        """What a scrape would see now (empty until `watch_token_expiry`)."""
        return [] if self._expiry_source is None else list(self._expiry_source())

    def watch_limiter(self, source: LimiterCountsSource) -> None:
        self._limiter_source = source

    def limiter_counts(self) -> LimiterCounts | None:
        """What a scrape would see now (``None`` until `watch_limiter`)."""
        return None if self._limiter_source is None else self._limiter_source()

    def limiter_wait(self, *, app_id: str, family: str, seconds: float) -> None:
        self.limiter_waits[(app_id, family)] += 1
        key = (app_id, family)
        self.limiter_wait_seconds[key] = self.limiter_wait_seconds.get(key, 0.0) + seconds

    def http_request(self, *, route: str, method: str, status: int, seconds: float) -> None:
        self.http_requests[(route, method, status)] += 1

    def event_received(self, *, app_id: str, event_type: str) -> None:
        self.events_received[(app_id, event_type)] += 1

    def event_rejected(self, *, app_id: str, event_type: str, reason: str) -> None:
        self.events_rejected[(app_id, event_type, reason)] += 1

    def event_deduplicated(self, *, app_id: str, event_type: str) -> None:
        self.events_deduplicated[(app_id, event_type)] += 1

    def send_job(self, *, app_id: str, outcome: SendJobOutcome) -> None:
        self.send_jobs[(app_id, outcome)] += 1

    def queue_depth(self, *, queue: str, messages: int) -> None:
        self.queue_depths[queue] = messages
