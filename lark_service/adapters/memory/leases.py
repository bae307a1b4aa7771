"""`LeaseStore` and `LeaseRunLog` in memory: for one process (tests, the embedded mode)."""

from __future__ import annotations

import time
from collections.abc import Callable

from lark_service.domain.ports.leases import LeaseRuns

__all__ = ["InMemoryLeaseStore"]


class InMemoryLeaseStore:
    """Leases in a dict, timed by ``now`` (monotonic by default: leases are short)."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._leases: dict[str, tuple[str, float]] = {}
        # kept apart from the leases: a release must not forget how often the duty ran
        self._runs: dict[str, tuple[int, float]] = {}

    async def acquire_lease(self, name: str, holder: str, *, ttl: float) -> bool:
        now = self._now()
        current = self._leases.get(name)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._leases[name] = (holder, now + ttl)
        return True

    async def release_lease(self, name: str, holder: str) -> None:
        current = self._leases.get(name)
        if current is not None and current[0] == holder:
            del self._leases[name]

    async def lease_holder(self, name: str) -> str | None:
        current = self._leases.get(name)
        if current is None or current[1] <= self._now():
            return None
        return current[0]

    async def record_run(self, name: str, holder: str) -> bool:
        current = self._leases.get(name)
        if current is None or current[0] != holder:
            return False
        runs, _ = self._runs.get(name, (0, 0.0))
        self._runs[name] = (runs + 1, self._now())
        return True

    async def lease_runs(self, name: str) -> LeaseRuns | None:
        if name not in self._runs and name not in self._leases:
            return None
        runs, last = self._runs.get(name, (0, None))
        return LeaseRuns(
            name=name, runs=runs, last_run_at=last, holder=await self.lease_holder(name)
        )
