from __future__ import annotations

from collections import Counter

from lark_service.domain.ports.metrics import Metrics


class InMemoryMetrics(Metrics):
    """Counts what happened, for tests and for `lark-service demo`."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str, str]] = Counter()
        self.token_fetches: Counter[tuple[str, str, str]] = Counter()
        self.retries: Counter[tuple[str, str, str]] = Counter()
        self.rate_limits: Counter[tuple[str, str]] = Counter()

    def api_call(self, *, app_id: str, api: str, outcome: str, seconds: float) -> None:
        self.calls[(app_id, api, outcome)] += 1

    def token_fetch(self, *, app_id: str, kind: str, outcome: str) -> None:
        self.token_fetches[(app_id, kind, outcome)] += 1

    def retry(self, *, app_id: str, api: str, reason: str) -> None:
        self.retries[(app_id, api, reason)] += 1

    def rate_limited(self, *, app_id: str, api: str) -> None:
        self.rate_limits[(app_id, api)] += 1
