from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    """Records what the service does. Attributes are bounded: app_id and api, never user ids."""

    def api_call(self, *, app_id: str, api: str, outcome: str, seconds: float) -> None: ...

    def token_fetch(self, *, app_id: str, kind: str, outcome: str) -> None: ...

    def retry(self, *, app_id: str, api: str, reason: str) -> None: ...

    def rate_limited(self, *, app_id: str, api: str) -> None: ...


class NullMetrics(Metrics):
    """Records nothing."""

    def api_call(self, *, app_id: str, api: str, outcome: str, seconds: float) -> None:
        return None

    def token_fetch(self, *, app_id: str, kind: str, outcome: str) -> None:
        return None

    def retry(self, *, app_id: str, api: str, reason: str) -> None:
        return None

    def rate_limited(self, *, app_id: str, api: str) -> None:
        return None
