"""When to try a failed token refresh again: exponential backoff with jitter, per token.

A pure function and a small record per token key; the pool consults them with its own
clock, so tests drive them with a fake clock and no sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass

from lark_service.domain.errors import RateLimitedError

__all__ = ["RefreshBackoff", "backoff_delay"]

BASE_DELAY = 1.0
MAX_DELAY = 60.0


def backoff_delay(
    failures: int, jitter: float, *, base: float = BASE_DELAY, cap: float = MAX_DELAY
) -> float:
    """Seconds to wait after ``failures`` consecutive failures (``jitter`` in [0, 1)).

    "Equal jitter": half the exponential step is kept, so a retry never comes right away,
    and the other half is spread so replicas and apps do not retry in step.
    """
    step = min(cap, base * 2.0 ** max(failures - 1, 0))
    return step / 2 + step / 2 * min(max(jitter, 0.0), 1.0)


@dataclass(slots=True)
class RefreshBackoff:
    """The failures of one token key: how many in a row, and when to try again."""

    failures: int = 0
    retry_at: float = 0.0
    error: BaseException | None = None

    def failed(self, error: BaseException, now: float, jitter: float) -> float:
        """Record a failed refresh at ``now``; returns the delay until the next try."""
        self.failures += 1
        delay = backoff_delay(self.failures, jitter)
        if isinstance(error, RateLimitedError):
            delay = max(delay, error.retry_after)
        self.error = error
        self.retry_at = now + delay
        return delay

    def waiting(self, now: float) -> bool:
        return now < self.retry_at
