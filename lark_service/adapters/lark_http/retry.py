"""The retry policy for calls to Lark.

- rate-limited (99991400 / HTTP 429): wait what ``x-ogw-ratelimit-reset`` says (plus jitter),
  bounded in count and delay; Lark did not execute the request, so any method is retried;
- 5xx and transport errors: bounded exponential backoff with full jitter, for idempotent
  requests only (GET/PUT/DELETE, or a POST carrying Lark's dedup ``uuid``);
- token-invalid is not retried here: the client refreshes the token and retries once.
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
    """Decides whether and after how long a failed attempt is retried."""

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

    def delay_for(
        self, request: LarkRequest, error: LarkServiceError, attempt: int
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up."""
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


NO_RETRY = RetryPolicy(max_attempts=1, max_rate_limit_retries=0)
