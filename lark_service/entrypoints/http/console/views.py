"""What the console pages show, gathered from the services (never a secret or a token).

Per-app status comes from the pool (when its cached tenant token expires), the job store
(the last Lark error of a queued send, with its log id), the console's own record of the
actions it ran (validate, test message), and the process's `RecentActivity` (calls, errors,
events and token fetch failures of the last hour; fed by the metrics tee, whatever the
exporter).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from lark_service.adapters.memory.recent_activity import (
    CallCounts,
    RecentActivity,
    recent_activity_of,
)
from lark_service.domain.errors import LarkServiceError
from lark_service.domain.events import (
    BadSignatureError,
    EventAuthError,
    EventDecodeError,
    EventRejectedError,
    EventsNotConfiguredError,
    StaleEventError,
    WrongTokenError,
)
from lark_service.domain.jobs import JobRecord
from lark_service.entrypoints.http.services import Services

RECENT_JOBS = 50
NO_CALLS = CallCounts(0, 0)


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
    calls: CallCounts | None  # in the last hour; None: not recorded in this process


def recent(services: Services) -> RecentActivity | None:
    """The process's last-hour record (``None`` when its metrics do not feed one)."""
    return recent_activity_of(services.pool.metrics)


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
    activity_record = recent(services)
    window = activity_record.calls() if activity_record is not None else {}
    rows = []
    for view in services.apps.list():
        candidates = [
            e
            for e in (activity.last_errors.get(view.app_id), job_errors.get(view.app_id))
            if e is not None
        ]
        last = max(candidates, key=lambda e: e.at or 0.0) if candidates else None
        failure = activity_record.token_fetch_failure(view.app_id) if activity_record else None
        if failure is not None and (last is None or (last.at or 0.0) < failure.at):
            last = LastError(failure.outcome, None, None, failure.at, f"{failure.kind} token fetch")
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
                calls=window.get(view.app_id, NO_CALLS) if activity_record is not None else None,
            )
        )
    return rows


@dataclass(frozen=True, slots=True, order=True)
class EventCount:
    """Events of one app and type in the last hour."""

    app_id: str
    event_type: str
    received: int
    deduplicated: int
    rejected: int


@dataclass(frozen=True, slots=True)
class RejectionRow:
    app_id: str
    event_type: str
    reason: str
    meaning: str
    at: float


@dataclass(frozen=True, slots=True)
class EventCounts:
    available: bool
    counts: list[EventCount]
    rejections: list[RejectionRow]


# what each refusal means, in the words of the error classes' own docstrings
_REJECTIONS: tuple[type[EventRejectedError], ...] = (
    EventDecodeError,
    EventAuthError,
    BadSignatureError,
    WrongTokenError,
    StaleEventError,
    EventsNotConfiguredError,
)
REASONS = {cls.__name__: (cls.__doc__ or "").strip().splitlines()[0] for cls in _REJECTIONS}


def event_counts(services: Services) -> EventCounts:
    """Per app and type, events received, dropped as duplicates and rejected in the last
    hour, and the latest rejections with their reason."""
    record = recent(services)
    if record is None:
        return EventCounts(False, [], [])
    window = record.events()
    keys = set(window.received) | set(window.deduplicated)
    rejected: Counter[tuple[str, str]] = Counter()
    for (app_id, event_type, _reason), n in window.rejected.items():
        rejected[(app_id, event_type)] += n
    keys |= set(rejected)
    counts = sorted(
        EventCount(
            app_id,
            event_type,
            received=window.received.get((app_id, event_type), 0),
            deduplicated=window.deduplicated.get((app_id, event_type), 0),
            rejected=rejected[(app_id, event_type)],
        )
        for app_id, event_type in keys
    )
    rows = [
        RejectionRow(r.app_id, r.event_type, r.reason, REASONS.get(r.reason, ""), r.at)
        for r in record.rejections()
    ]
    return EventCounts(True, counts, rows)
