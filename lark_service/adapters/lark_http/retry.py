"""The retry policy for calls to Lark.

Each cause of failure has its own budget within one call, so rate limiting does not use up
the retries meant for server errors (and the other way round):

- rate-limited (99991400 / HTTP 429): wait what ``x-ogw-ratelimit-reset`` (or a numeric
  ``Retry-After``) says, plus jitter, at most ``max_rate_limit_retries`` times and at most
  ``max_delay`` each; Lark did not execute the request, so any method is retried;
- 5xx and transport errors: at most ``max_attempts - 1`` retries with exponential backoff
  and full jitter, for idempotent requests only (GET/PUT/DELETE, or a POST carrying Lark's
  dedup ``uuid``);
- anything else (404 above all, and every other 4xx) is final; token-invalid is handled by
  the client, which refreshes the token and retries once.

A reply is classified by its status and headers when its body is not JSON (see
`lark_service.adapters.lark_http.envelope`), so a plain-text 404 is a `NotFoundError` and a
plain-text 429 a `RateLimitedError` that honours its reset header.
"""

from __future__ import annotations

import random

from lark_service.domain.errors import (
    LarkServiceError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from lark_service.domain.wire import LarkRequest


class RetryPolicy:
    """The limits; `start` gives the per-call state that counts retries by cause."""

    def __init__(
        self,
        *,
        max_attempts: int = 3,
        max_rate_limit_retries: int = 5,
        base_delay: float = 0.2,
        max_delay: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self.max_attempts = max_attempts
        self.max_rate_limit_retries = max_rate_limit_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._rng = rng or random.Random()  # noqa: S311  # nosec B311 - jitter, not security

    def start(self) -> RetryBudget:
        """A fresh budget for one call."""
        return RetryBudget(self)

    def delay_for(
        self, request: LarkRequest, error: LarkServiceError, attempt: int
    ) -> float | None:
        """Seconds to wait before retrying after ``error``, or ``None`` to give up.

        ``attempt`` counts the earlier retries *of the same cause* in this call (`RetryBudget`
        keeps that count)."""
        if error.http_status == 404:
            return None
        if isinstance(error, RateLimitedError):
            if attempt >= self.max_rate_limit_retries:
                return None
            jitter = self._rng.uniform(0, 0.1 * max(error.retry_after, 0.1))
            return min(self.max_delay, error.retry_after + jitter)
        if isinstance(error, (ServerError, TransportError)) and request.idempotent:
            if attempt + 1 >= self.max_attempts:
                return None
            ceiling = min(self.max_delay, self.base_delay * (2**attempt))
            return self._rng.uniform(0, ceiling)
        return None


class RetryBudget:
    """Retries spent so far in one call, counted separately per cause."""

    __slots__ = ("_failed", "_policy", "_rate_limited")

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._rate_limited = 0
        self._failed = 0

    def next_delay(self, request: LarkRequest, error: LarkServiceError) -> float | None:
        """Seconds to wait before the next attempt (and count it), or ``None`` to give up."""
        rate_limited = isinstance(error, RateLimitedError)
        spent = self._rate_limited if rate_limited else self._failed
        delay = self._policy.delay_for(request, error, spent)
        if delay is not None:
            if rate_limited:
                self._rate_limited += 1
            else:
                self._failed += 1
        return delay


NO_RETRY = RetryPolicy(max_attempts=1, max_rate_limit_retries=0)
