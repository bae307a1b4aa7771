"""Leases: one holder at a time for a named duty across replicas (an app's long connection).

A lease is held until ``expires_at``; its holder renews it (`acquire_lease` again) well
before then. A holder that stops renewing (it crashed, hung or lost the store) loses the
lease once it expires, and another replica's `acquire_lease` then takes it over. Stores
use one clock for every replica (the database server's), so hosts' clocks need not agree.
"""

from __future__ import annotations

from typing import Protocol


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
