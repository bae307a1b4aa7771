"""Leases: one holder at a time for a named duty across replicas (an app's long connection).

A lease is held until ``expires_at``; its holder renews it (`acquire_lease` again) well
before then. A holder that stops renewing (it crashed, hung or lost the store) loses the
lease once it expires, and another replica's `acquire_lease` then takes it over. Stores
use one clock for every replica (the database server's), so hosts' clocks need not agree.

A store may also keep a run log per lease (`LeaseRunLog`): how many times the duty ran and
when it last did, kept across holders and releases, so operators (and tests) can see that a
periodic duty ran once per period across replicas.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec


class LeaseStore(Protocol):
    """Named leases with expiry, shared by every replica."""

    async def acquire_lease(self, name: str, holder: str, *, ttl: float) -> bool:
        """Take ``name`` for ``holder`` for ``ttl`` seconds, or renew it when ``holder``
        already has it; ``False`` when another holder's lease has not expired."""
        ...

    async def release_lease(self, name: str, holder: str) -> None:
        """Give ``name`` up, if ``holder`` holds it (otherwise nothing happens)."""
        ...

    async def lease_holder(self, name: str) -> str | None:
        """Who holds ``name`` now (``None``: nobody, or the lease expired)."""
        ...


class LeaseRuns(msgspec.Struct, frozen=True, kw_only=True):
    """The run log of one lease: ``runs`` counted over every holder so far."""

    name: str
    runs: int
    last_run_at: float | None
    """Unix seconds on the store's clock; ``None``: never ran."""
    holder: str | None
    """Who holds the lease now (``None``: nobody, or it expired)."""


@runtime_checkable
class LeaseRunLog(Protocol):
    """Counts the runs of a leased duty, in the same store as the lease."""

    async def record_run(self, name: str, holder: str) -> bool:
        """Count one run of ``name`` by ``holder``; ``False`` (nothing counted) when
        ``holder`` does not hold the lease any more."""
        ...

    async def lease_runs(self, name: str) -> LeaseRuns | None:
        """The run log of ``name`` (``None``: the lease was never taken)."""
        ...
