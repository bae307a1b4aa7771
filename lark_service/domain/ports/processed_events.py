from __future__ import annotations

from typing import Protocol


class ProcessedEventStore(Protocol):
    """Remembers the ids of events already handled, so redeliveries are dropped."""

    async def remember_event(self, event_id: str, *, expires_at: float) -> bool:
        """Record an event id; ``False`` if it was already recorded (a duplicate delivery)."""
        ...

    async def seen_event(self, event_id: str, *, now: float) -> bool:
        """Whether ``event_id`` is recorded and its ``expires_at`` is not before ``now``."""
        ...

    async def forget_event(self, event_id: str) -> None:
        """Drop one id again (its handling failed, so the redelivery must not be a duplicate)."""
        ...

    async def prune_events(self, *, before: float) -> int:
        """Forget ids whose ``expires_at`` is before ``before``; returns how many."""
        ...
