"""The `Metrics` port: what the service, the worker and the event intake record.

Every attribute is bounded: an app id, an API name, a route template, a token kind, a queue
name, an outcome class (an error class name or one of a few words). Never a user, chat,
message, job or tenant id, and never a token or secret — callers pass only such bounded
values (an event that fails verification is counted under app ``"unknown"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple, Protocol

SendJobOutcome = Literal["published", "sent", "failed", "dead_lettered"]
"""What happened to a send job: taken by the broker, delivered to Lark, failed, dead-lettered."""


class TokenExpiry(NamedTuple):
    """Seconds until one cached token expires (the soonest of an app's tokens of a kind)."""

    app_id: str
    kind: str
    seconds: float


TokenExpirySource = Callable[[], Iterable[TokenExpiry]]
"""Called at every scrape; must be cheap and must not block (no I/O)."""


class LimiterCounts(NamedTuple):
    """What the shared rate limiter did since the process started (cumulative counts)."""

    store_round_trips: int  # exchanges with the shared budget store (Redis)
    store_errors: int  # of those, the failed ones
    fallbacks: int  # times the store became unreachable (local share taken)
    fallback_calls: int  # calls shaped by the local share meanwhile


LimiterCountsSource = Callable[[], LimiterCounts]
"""Called at every scrape; must be cheap and must not block (no I/O)."""


class Metrics(Protocol):
    """Records what the service does. Attributes are bounded: app_id and api, never user ids."""

    # Lark calls (application/base_client.py, adapters/lark_http)
    def api_call(self, *, app_id: str, api: str, outcome: str, seconds: float) -> None: ...

    def retry(self, *, app_id: str, api: str, reason: str) -> None: ...

    def rate_limited(self, *, app_id: str, api: str, reset: float | None = None) -> None:
        """A rate-limit reply; ``reset``: Lark's ``x-ogw-ratelimit-reset`` (s), when sent."""
        ...

    # Tokens (application/pool.py)
    def token_fetch(self, *, app_id: str, kind: str, outcome: str) -> None: ...

    def token_refresh(self, *, app_id: str, kind: str, outcome: str) -> None:
        """A background refresh ahead of expiry (a cached token still served meanwhile)."""
        ...

    def watch_token_expiry(self, source: TokenExpirySource) -> None:
        """Report ``source()``'s seconds-until-expiry at every scrape (replaces any earlier)."""
        ...

    # Client-side rate limiting (application/rate_limit.py)
    def limiter_wait(self, *, app_id: str, family: str, seconds: float) -> None:
        """A call waited ``seconds`` (> 0) for a slot of its API family."""
        ...

    def watch_limiter(self, source: LimiterCountsSource) -> None:
        """Report ``source()``'s shared-limiter counts at every scrape (replaces any earlier)."""
        ...

    # HTTP API (entrypoints, the service)
    def http_request(self, *, route: str, method: str, status: int, seconds: float) -> None:
        """One request; ``route`` is the route template (``/v1/jobs/{job_id}``), not the path."""
        ...

    # Event intake
    def event_received(self, *, app_id: str, event_type: str) -> None: ...

    def event_rejected(self, *, app_id: str, event_type: str, reason: str) -> None: ...

    def event_deduplicated(self, *, app_id: str, event_type: str) -> None: ...

    # Send queue and worker
    def send_job(self, *, app_id: str, outcome: SendJobOutcome) -> None: ...

    def queue_depth(self, *, queue: str, messages: int) -> None:
        """The last seen message count of ``queue`` (``lark.send``, ``lark.send.dead``)."""
        ...


class NullMetrics(Metrics):
    """Records nothing."""

    def api_call(self, *, app_id: str, api: str, outcome: str, seconds: float) -> None:
        return None

    def retry(self, *, app_id: str, api: str, reason: str) -> None:
        return None

    def rate_limited(self, *, app_id: str, api: str, reset: float | None = None) -> None:
        return None

    def token_fetch(self, *, app_id: str, kind: str, outcome: str) -> None:
        return None

    def token_refresh(self, *, app_id: str, kind: str, outcome: str) -> None:
        return None

    def watch_token_expiry(self, source: TokenExpirySource) -> None:
        return None

    def limiter_wait(self, *, app_id: str, family: str, seconds: float) -> None:
        return None

    def watch_limiter(self, source: LimiterCountsSource) -> None:
        return None

    def http_request(self, *, route: str, method: str, status: int, seconds: float) -> None:
        return None

    def event_received(self, *, app_id: str, event_type: str) -> None:
        return None

    def event_rejected(self, *, app_id: str, event_type: str, reason: str) -> None:
        return None

    def event_deduplicated(self, *, app_id: str, event_type: str) -> None:
        return None

    def send_job(self, *, app_id: str, outcome: SendJobOutcome) -> None:
        return None

    def queue_depth(self, *, queue: str, messages: int) -> None:
        return None
