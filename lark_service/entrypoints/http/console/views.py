"""What the console pages show, gathered from the services (never a secret or a token).

Per-app status comes from the pool (when its cached tenant token expires), the job store
(the last Lark error of a queued send, with its log id), the console's own record of the
actions it ran (validate, test message), and the metrics when they are the in-memory
counters (calls and errors, token fetch failures, events). With the Prometheus metrics the
counts are in Grafana, and the pages say so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from lark_service.adapters.memory.metrics import InMemoryMetrics
from lark_service.domain.errors import LarkServiceError
from lark_service.domain.jobs import JobRecord
from lark_service.domain.ports.metrics import Metrics
from lark_service.entrypoints.http.services import Services

RECENT_JOBS = 50


@dataclass(frozen=True, slots=True)
class LastError:
    """A Lark error as an operator needs it: what, Lark's code and log id, and when."""

    message: str
    code: int | None
    log_id: str | None
    at: float | None
    source: str  # "job", "validate", "test message", "token fetch"


@dataclass(slots=True)
class ConsoleActivity:
    """The last error of each app seen by the console's own actions."""

    last_errors: dict[str, LastError] = field(default_factory=dict)

    def record_error(self, app_id: str, exc: LarkServiceError, *, source: str, at: float) -> None:
        self.last_errors[app_id] = LastError(
            message=f"{type(exc).__name__}: {exc.msg}",
            code=exc.code if exc.code not in (-1, 0) else None,
            log_id=exc.log_id or None,
            at=at,
            source=source,
        )

    def clear(self, app_id: str) -> None:
        self.last_errors.pop(app_id, None)


@dataclass(frozen=True, slots=True)
class AppRow:
    app_id: str
    name: str
    app_type: str
    domain: str
    enabled: bool
    is_default: bool
    has_encrypt_key: bool
    has_verification_token: bool
    token_valid_until: float | None
    last_error: LastError | None
    calls: int | None
    errors: int | None


def counters(metrics: Metrics) -> InMemoryMetrics | None:
    """The metrics as readable counters, or ``None`` when they go to Prometheus."""
    return metrics if isinstance(metrics, InMemoryMetrics) else None


def token_valid_until(services: Services) -> dict[str, float]:
    """Per app, when its soonest-expiring cached tenant/app token expires (epoch seconds)."""
    now = services.pool.clock.now()
    out: dict[str, float] = {}
    for expiry in services.pool.token_expiries():
        if expiry.seconds <= 0:
            continue
        until = now + expiry.seconds
        out[expiry.app_id] = min(until, out.get(expiry.app_id, until))
    return out


def _job_error(record: JobRecord) -> LastError:
    return LastError(
        message=record.error_msg or "",
        code=record.error_code if record.error_code not in (None, -1, 0) else None,
        log_id=record.log_id,
        at=record.updated_at,
        source="job",
    )


async def app_rows(services: Services, activity: ConsoleActivity) -> list[AppRow]:
    """Every app with its token status and last error."""
    valid = token_valid_until(services)
    job_errors: dict[str, LastError] = {}
    for record in await services.sending.jobs.list_jobs(limit=500):  # newest first
        if record.error_msg and record.app_id not in job_errors:
            job_errors[record.app_id] = _job_error(record)
    readable = counters(services.pool.metrics)
    calls: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    fetch_errors: dict[str, str] = {}
    if readable is not None:
        for (app_id, _api, outcome), n in readable.calls.items():
            calls[app_id] += n
            if outcome != "ok":
                errors[app_id] += n
        for (app_id, _kind, outcome), n in readable.token_fetches.items():
            if outcome != "ok" and n:
                fetch_errors[app_id] = outcome
    rows = []
    for view in services.apps.list():
        candidates = [
            e
            for e in (activity.last_errors.get(view.app_id), job_errors.get(view.app_id))
            if e is not None
        ]
        last = max(candidates, key=lambda e: e.at or 0.0) if candidates else None
        if last is None and view.app_id in fetch_errors:
            last = LastError(fetch_errors[view.app_id], None, None, None, "token fetch")
        rows.append(
            AppRow(
                app_id=view.app_id,
                name=view.name,
                app_type=str(view.app_type.value),
                domain=view.domain,
                enabled=view.enabled,
                is_default=view.is_default,
                has_encrypt_key=view.has_encrypt_key,
                has_verification_token=view.has_verification_token,
                token_valid_until=valid.get(view.app_id),
                last_error=last,
                calls=calls[view.app_id] if readable is not None else None,
                errors=errors[view.app_id] if readable is not None else None,
            )
        )
    return rows


@dataclass(frozen=True, slots=True, order=True)
class EventCount:
    app_id: str
    event_type: str
    count: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class EventCounts:
    available: bool
    received: list[EventCount]
    rejected: list[EventCount]
    deduplicated: list[EventCount]


def event_counts(metrics: Metrics) -> EventCounts:
    """Events received, rejected (with the reason) and deduplicated, per app and type."""
    readable = counters(metrics)
    if readable is None:
        return EventCounts(False, [], [], [])
    return EventCounts(
        True,
        received=sorted(EventCount(a, t, n) for (a, t), n in readable.events_received.items()),
        rejected=sorted(
            EventCount(a, t, n, reason) for (a, t, reason), n in readable.events_rejected.items()
        ),
        deduplicated=sorted(
            EventCount(a, t, n) for (a, t), n in readable.events_deduplicated.items()
        ),
    )
