"""Scheduled upkeep of a running service: token refresh, token care and pruning.

``serve`` runs five periodic jobs (`open_upkeep`):

* ``tokens``: refresh the tenant tokens of enabled self-built apps that are close to expiry,
  so an app with no traffic still has a fresh token when its first call comes;
* ``grants``: prompt users whose user grant is about to lapse (`GrantService.check_grants`);
* ``sessions``: expire overdue grant sessions and delete old ended ones;
* ``events``: forget expired event ids of the webhook deduplication;
* ``jobs``: delete send-job records older than ``keep_jobs_for``.

The timing is APScheduler's (3.x ``AsyncIOScheduler`` with interval triggers): it runs the
coroutines on the service's own loop, skips a run while the previous one is still going
(``max_instances=1``), folds missed runs into one (``coalesce``) and gives the jobs a little
jitter so replicas do not all hit the database at once. Its job store is the default, in
memory: the jobs are defined in code at start-up, so there is nothing to persist, and
APScheduler 3's SQLAlchemy job store is synchronous. Instead, each run is guarded by a lease
in the service's own store (`LeaseStore`, ``upkeep:<job>``): every replica schedules every
job, but only the replica holding the job's lease runs it. A run takes (or renews) the lease
for a little over one period and keeps it, so the other replicas' ticks in that period find it
held and skip: each job runs once per period across replicas, and when its holder stops, the
lease expires and another replica takes the job over.

Every run has a deadline (at most its period); a failing or overrunning job is logged and
counted as failed, and the scheduler carries on. A finished run is counted on its lease's row
(``runs``, ``last_run_at``: `LeaseRunLog`), so the store shows how often each job ran across
replicas and when last.

The periods and retentions come from `Settings` (``upkeep_*``, ``grant_session_retention``,
``job_retention``; `upkeep_intervals`); ``upkeep_enabled = false`` keeps a replica out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from lark_service.adapters.lark_ws.supervisor import default_holder
from lark_service.application.pool import CredentialPool
from lark_service.domain.apps import AppType
from lark_service.domain.errors import ConfigError
from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.leases import LeaseRunLog, LeaseStore
from lark_service.entrypoints.http.services import Services
from lark_service.entrypoints.settings import Settings

__all__ = [
    "UpkeepIntervals",
    "UpkeepJob",
    "UpkeepRunner",
    "open_upkeep",
    "prune_jobs",
    "refresh_tenant_tokens",
    "upkeep_intervals",
    "upkeep_jobs",
]

log = logging.getLogger("lark_service.upkeep")

# A lease outlives its period by this share, so a holder's next tick renews it in time even
# when the scheduler fires a little late, and no other replica runs the job in between.
_LEASE_SLACK = 0.5
# The longest a single run may take, whatever its period.
_MAX_DEADLINE = 300.0
# At exit, runs in progress get this long to finish (and be counted) before they are cancelled.
_DRAIN_DEADLINE = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class UpkeepIntervals:
    """Seconds between runs of each job, and how long records are kept."""

    tokens: float = 60.0
    grants: float = 600.0
    sessions: float = 3600.0
    events: float = 600.0
    jobs: float = 3600.0
    keep_sessions_for: float = 86400.0
    keep_jobs_for: float = 7 * 86400.0

    def __post_init__(self) -> None:
        for name in ("tokens", "grants", "sessions", "events", "jobs"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"upkeep interval {name} must be > 0 seconds")
        for name in ("keep_sessions_for", "keep_jobs_for"):
            if getattr(self, name) < 0:
                raise ConfigError(f"upkeep {name} must be >= 0 seconds")


def upkeep_intervals(settings: Settings) -> UpkeepIntervals:
    """The periods and retentions of the upkeep jobs, from ``settings``."""
    return UpkeepIntervals(
        tokens=settings.upkeep_token_refresh_interval,
        grants=settings.upkeep_grant_check_interval,
        sessions=settings.upkeep_session_prune_interval,
        events=settings.upkeep_event_prune_interval,
        jobs=settings.upkeep_job_prune_interval,
        keep_sessions_for=settings.grant_session_retention,
        keep_jobs_for=settings.job_retention,
    )


@dataclass(frozen=True, slots=True)
class UpkeepJob:
    """One periodic job: ``run`` returns how many things it handled (for the log)."""

    name: str
    period: float
    run: Callable[[], Awaitable[int]]

    @property
    def deadline(self) -> float:
        """A run must end before the next one is due."""
        return min(self.period, _MAX_DEADLINE)

    @property
    def lease_ttl(self) -> float:
        return self.period * (1 + _LEASE_SLACK)


async def refresh_tenant_tokens(pool: CredentialPool, *, window: float | None = None) -> int:
    """Touch the tenant token of every enabled self-built app whose cached token expires
    within ``window`` seconds (default: the pool's ``refresh_ahead``) or that has none yet;
    the pool then refreshes it (in the background while the old one still serves). How many
    apps were touched. A failure of one app is logged and does not stop the others."""
    window = pool.refresh_ahead if window is None else window
    left = {e.app_id: e.seconds for e in pool.token_expiries() if e.kind == "tenant"}
    touched = 0
    for app in pool.apps.list():
        if not app.enabled or app.app_type is not AppType.SELF_BUILT:
            continue
        if left.get(app.app_id, 0.0) > window:
            continue
        try:
            await pool.tenant_access_token(app.app_id)
        except Exception as exc:  # the next run (or the next call) tries again
            log.warning("refreshing the tenant token of %s failed: %s", app.app_id, exc)
            continue
        touched += 1
    return touched


async def prune_jobs(services: Services, clock: Clock, *, keep_for: float) -> int:
    """Delete the send-job records not updated for ``keep_for`` seconds."""
    return await services.sending.jobs.prune_jobs(clock.now() - keep_for)


def upkeep_jobs(
    services: Services, *, clock: Clock, intervals: UpkeepIntervals | None = None
) -> list[UpkeepJob]:
    """The periodic jobs over ``services`` (the grant jobs only when grants are enabled)."""
    every = intervals or UpkeepIntervals()
    jobs = [
        UpkeepJob("tokens", every.tokens, lambda: refresh_tenant_tokens(services.pool)),
        UpkeepJob("events", every.events, services.events.prune),
        UpkeepJob(
            "jobs", every.jobs, lambda: prune_jobs(services, clock, keep_for=every.keep_jobs_for)
        ),
    ]
    grants = services.grants
    if grants is not None:
        jobs += [
            UpkeepJob("grants", every.grants, grants.check_grants),
            UpkeepJob(
                "sessions",
                every.sessions,
                lambda: grants.prune_sessions(keep_for=every.keep_sessions_for),
            ),
        ]
    return jobs


class UpkeepRunner:
    """Runs a job when this replica holds (or can take) the job's lease, and counts each
    finished run on the lease when the store keeps a run log."""

    def __init__(self, leases: LeaseStore, *, holder: str | None = None) -> None:
        self.leases = leases
        self.run_log: LeaseRunLog | None = leases if isinstance(leases, LeaseRunLog) else None
        self.holder = holder or default_holder()
        self._running: set[asyncio.Task[object]] = set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(holder={self.holder!r})"

    @staticmethod
    def lease_name(job: UpkeepJob) -> str:
        return f"upkeep:{job.name}"

    async def run(self, job: UpkeepJob) -> int | None:
        """One run of ``job``: how many things it handled, or ``None`` when another replica
        holds its lease or the run failed (logged; the next tick tries again)."""
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always called in a task
            return await self._run(job)
        self._running.add(task)
        try:
            return await self._run(job)
        finally:
            self._running.discard(task)

    async def drain(self, *, within: float) -> None:
        """Wait up to ``within`` seconds for the runs in progress to end."""
        running = [t for t in self._running if t is not asyncio.current_task()]
        if running:
            await asyncio.wait(running, timeout=within)

    async def _run(self, job: UpkeepJob) -> int | None:
        try:
            async with asyncio.timeout(job.deadline):
                mine = await self.leases.acquire_lease(
                    self.lease_name(job), self.holder, ttl=job.lease_ttl
                )
                if not mine:
                    return None
                done = await job.run()
        except TimeoutError:
            log.warning("upkeep job %s did not finish within %.0f s", job.name, job.deadline)
            return None
        except Exception:
            log.exception("upkeep job %s failed", job.name)
            return None
        log.debug("upkeep job %s handled %d", job.name, done)
        await self._record(job)
        return done

    async def _record(self, job: UpkeepJob) -> None:
        if self.run_log is None:
            return
        try:
            async with asyncio.timeout(5.0):
                await self.run_log.record_run(self.lease_name(job), self.holder)
        except Exception as exc:  # the run happened; only its count is missing
            log.warning("counting a run of upkeep job %s failed: %r", job.name, exc)

    async def release(self, jobs: Sequence[UpkeepJob]) -> None:
        """Give the jobs' leases up, so another replica takes them over without waiting."""
        for job in jobs:
            try:
                async with asyncio.timeout(5.0):
                    await self.leases.release_lease(self.lease_name(job), self.holder)
            except Exception as exc:  # they expire on their own
                log.warning("releasing the lease of upkeep job %s failed: %r", job.name, exc)


@contextlib.asynccontextmanager
async def open_upkeep(
    services: Services | None,
    leases: LeaseStore,
    *,
    clock: Clock,
    intervals: UpkeepIntervals | None = None,
    holder: str | None = None,
    jobs: Sequence[UpkeepJob] | None = None,
) -> AsyncIterator[UpkeepRunner]:
    """Schedule the upkeep jobs while the block runs: ``jobs``, or `upkeep_jobs` over
    ``services``; at exit the scheduler stops (cancelling runs in progress) and this
    replica's leases are released."""
    # imported here: only `serve` schedules
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    if jobs is not None:
        chosen = list(jobs)
    elif services is not None:
        chosen = upkeep_jobs(services, clock=clock, intervals=intervals)
    else:
        raise ConfigError("open_upkeep: give services or jobs")
    runner = UpkeepRunner(leases, holder=holder)
    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
    for job in chosen:
        scheduler.add_job(
            runner.run,
            IntervalTrigger(seconds=job.period, jitter=min(job.period * 0.1, 5.0)),
            args=[job],
            id=job.name,
            name=f"upkeep:{job.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(job.period)),
        )
    # APScheduler logs every tick at INFO, also in the replicas that skip it; keep its
    # warnings (missed runs) unless the operator configured its logger
    quiet = logging.getLogger("apscheduler")
    if quiet.level == logging.NOTSET:
        quiet.setLevel(logging.WARNING)
    scheduler.start()
    try:
        yield runner
    finally:
        # no new runs; those in progress finish (and are counted) unless they overrun, as
        # the scheduler's shutdown cancels what still runs
        scheduler.pause()
        await runner.drain(within=_DRAIN_DEADLINE)
        scheduler.shutdown(wait=False)
        await runner.release(chosen)
