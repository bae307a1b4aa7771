"""What happened in the last hour, per app, for the operator console, whatever the exporter.

The exported metrics (Prometheus) are cumulative and read by Grafana; the console needs
"calls and errors in the last hour" in the process itself. `RecentActivityMetrics` is a
`Metrics` that forwards everything to the exported metrics and also counts Lark calls, token
fetch failures and events into `RecentActivity`: a ring of minute buckets over the injected
`Clock`, so memory stays bounded (the `Metrics` attributes are bounded: apps, types,
reasons) and tests move a `ManualClock` instead of waiting.

Rejected events are also kept in a short list (app, type, reason, time): never a payload,
a token or anything read from an unverified body, since the caller passes only bounded
labels.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.metrics import (
    LimiterCountsSource,
    Metrics,
    SendJobOutcome,
    TokenExpirySource,
)

__all__ = [
    "CallCounts",
    "EventWindow",
    "RecentActivity",
    "RecentActivityMetrics",
    "Rejection",
    "TokenFetchFailure",
    "recent_activity_of",
]

DEFAULT_WINDOW = 3600.0
DEFAULT_BUCKET = 60.0
DEFAULT_REJECTIONS = 50


@dataclass(frozen=True, slots=True)
class CallCounts:
    calls: int
    errors: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """One event refused at intake: for which app, of which type, why and when."""

    app_id: str
    event_type: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class TokenFetchFailure:
    """The last failed token fetch of an app: the error class and when."""

    kind: str
    outcome: str
    at: float


@dataclass(frozen=True, slots=True)
class EventWindow:
    """Event counts in the window, keyed by (app, type) and (app, type, reason)."""

    received: dict[tuple[str, str], int]
    rejected: dict[tuple[str, str, str], int]
    deduplicated: dict[tuple[str, str], int]


@dataclass(slots=True)
class _Bucket:
    index: int  # minutes (buckets) since the epoch
    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    received: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejected: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    deduplicated: Counter[tuple[str, str]] = field(default_factory=Counter)


class RecentActivity:
    """Counts in a rolling ``window`` of ``bucket``-second buckets (the hour, by minute).

    A count belongs to the window while its bucket is one of the last ``window / bucket``
    buckets, the current one included: "the last hour" is exact to a bucket.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        window: float = DEFAULT_WINDOW,
        bucket: float = DEFAULT_BUCKET,
        max_rejections: int = DEFAULT_REJECTIONS,
    ) -> None:
        if bucket <= 0 or window < bucket or max_rejections < 1:
            raise ValueError("need 0 < bucket <= window and max_rejections >= 1")
        self.clock = clock
        self.window = window
        self.bucket = bucket
        self._span = round(window / bucket)
        self._buckets: deque[_Bucket] = deque(maxlen=self._span)
        self._rejections: deque[Rejection] = deque(maxlen=max_rejections)
        self._fetch_failures: dict[str, TokenFetchFailure] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(window={self.window}, bucket={self.bucket})"

    # -- recording -------------------------------------------------------------------

    def _current(self) -> _Bucket:
        index = int(self.clock.now() // self.bucket)
        if not self._buckets or self._buckets[-1].index < index:
            self._buckets.append(_Bucket(index))  # the deque's maxlen drops the oldest
        return self._buckets[-1]

    def api_call(self, app_id: str, *, ok: bool) -> None:
        b = self._current()
        b.calls[app_id] += 1
        if not ok:
            b.errors[app_id] += 1

    def event_received(self, app_id: str, event_type: str) -> None:
        self._current().received[(app_id, event_type)] += 1

    def event_deduplicated(self, app_id: str, event_type: str) -> None:
        self._current().deduplicated[(app_id, event_type)] += 1

    def event_rejected(self, app_id: str, event_type: str, reason: str) -> None:
        self._current().rejected[(app_id, event_type, reason)] += 1
        self._rejections.append(Rejection(app_id, event_type, reason, self.clock.now()))

    def token_fetch(self, app_id: str, kind: str, outcome: str) -> None:
        if outcome == "ok":
            self._fetch_failures.pop(app_id, None)
        else:
            self._fetch_failures[app_id] = TokenFetchFailure(kind, outcome, self.clock.now())

    # -- reading ---------------------------------------------------------------------

    def _live(self) -> list[_Bucket]:
        oldest = int(self.clock.now() // self.bucket) - self._span + 1
        return [b for b in self._buckets if b.index >= oldest]

    def calls(self) -> dict[str, CallCounts]:
        """Per app, the Lark calls and the failed ones in the window."""
        calls: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        for b in self._live():
            calls.update(b.calls)
            errors.update(b.errors)
        return {app: CallCounts(n, errors[app]) for app, n in calls.items()}

    def events(self) -> EventWindow:
        received: Counter[tuple[str, str]] = Counter()
        rejected: Counter[tuple[str, str, str]] = Counter()
        deduplicated: Counter[tuple[str, str]] = Counter()
        for b in self._live():
            received.update(b.received)
            rejected.update(b.rejected)
            deduplicated.update(b.deduplicated)
        return EventWindow(dict(received), dict(rejected), dict(deduplicated))

    def rejections(self) -> list[Rejection]:
        """The latest rejected events in the window, newest first."""
        since = self.clock.now() - self.window
        return [r for r in reversed(self._rejections) if r.at > since]

    def token_fetch_failure(self, app_id: str) -> TokenFetchFailure | None:
        """The app's last token fetch failure, unless a fetch succeeded since."""
        return self._fetch_failures.get(app_id)


class RecentActivityMetrics(Metrics):
    """Forwards every call to ``inner`` (the exported metrics) and records the console's
    last-hour counts into ``activity``."""

    def __init__(self, inner: Metrics, activity: RecentActivity) -> None:
        self.inner = inner
        self.activity = activity

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    def api_call(self, *, app_id: str, api: str, outcome: str, seconds: float) -> None:
        self.activity.api_call(app_id, ok=outcome == "ok")
        self.inner.api_call(app_id=app_id, api=api, outcome=outcome, seconds=seconds)

    def retry(self, *, app_id: str, api: str, reason: str) -> None:
        self.inner.retry(app_id=app_id, api=api, reason=reason)

    def rate_limited(self, *, app_id: str, api: str, reset: float | None = None) -> None:
        self.inner.rate_limited(app_id=app_id, api=api, reset=reset)

    def token_fetch(self, *, app_id: str, kind: str, outcome: str) -> None:
        self.activity.token_fetch(app_id, kind, outcome)
        self.inner.token_fetch(app_id=app_id, kind=kind, outcome=outcome)

    def token_refresh(self, *, app_id: str, kind: str, outcome: str) -> None:
        self.inner.token_refresh(app_id=app_id, kind=kind, outcome=outcome)

    def watch_token_expiry(self, source: TokenExpirySource) -> None:
        self.inner.watch_token_expiry(source)

    def limiter_wait(self, *, app_id: str, family: str, seconds: float) -> None:
        self.inner.limiter_wait(app_id=app_id, family=family, seconds=seconds)

    def watch_limiter(self, source: LimiterCountsSource) -> None:
        self.inner.watch_limiter(source)

    def http_request(self, *, route: str, method: str, status: int, seconds: float) -> None:
        self.inner.http_request(route=route, method=method, status=status, seconds=seconds)

    def event_received(self, *, app_id: str, event_type: str) -> None:
        self.activity.event_received(app_id, event_type)
        self.inner.event_received(app_id=app_id, event_type=event_type)

    def event_rejected(self, *, app_id: str, event_type: str, reason: str) -> None:
        self.activity.event_rejected(app_id, event_type, reason)
        self.inner.event_rejected(app_id=app_id, event_type=event_type, reason=reason)

    def event_deduplicated(self, *, app_id: str, event_type: str) -> None:
        self.activity.event_deduplicated(app_id, event_type)
        self.inner.event_deduplicated(app_id=app_id, event_type=event_type)

    def send_job(self, *, app_id: str, outcome: SendJobOutcome) -> None:
        self.inner.send_job(app_id=app_id, outcome=outcome)

    def queue_depth(self, *, queue: str, messages: int) -> None:
        self.inner.queue_depth(queue=queue, messages=messages)


def recent_activity_of(metrics: Metrics) -> RecentActivity | None:
    """The last-hour record behind ``metrics``, if they feed one."""
    return metrics.activity if isinstance(metrics, RecentActivityMetrics) else None
