"""Feeds Lark's rate-limit replies back into the limiter, through the Metrics port.

The transport reports every 99991400 / HTTP 429 as ``Metrics.rate_limited(app_id, api)``,
retries included, but knows neither the limiter nor the call's rate family. This decorator
sits between the transport and the real `Metrics`: it forwards everything and, on a
rate-limit reply, pauses the family of ``api`` (in every process when the limiter is shared).
The pause lasts Lark's ``x-ogw-ratelimit-reset`` (seconds until its window resets) when the
reply carried it, else one second, its usual value.
"""

from __future__ import annotations

from typing import Any

from lark_service.application.rate_limit import DEFAULT_LIMITS, RateLimiter
from lark_service.domain.ports.metrics import Metrics

RESET_SECONDS = 1.0
# a reset header beyond this is not believed: one bad header must not stall an app for long
MAX_RESET_SECONDS = 60.0

# API names whose family is not their longest family-name prefix.
_FAMILIES = {
    "im.message.create": "im.message.send",
    "im.message.reply": "im.message.send",
    "im.message.update": "im.message.write",
    "im.message.patch": "im.message.write",
    "im.message.delete": "im.message.write",
    "im.image.create": "im.upload",
    "im.file.create": "im.upload",
}


def family_of(api: str) -> str | None:
    """The rate family of ``api`` (``None`` if unknown)."""
    found = _FAMILIES.get(api)
    if found is not None:
        return found
    best = None
    for family in DEFAULT_LIMITS:
        if (api == family or api.startswith(family + ".")) and len(family) > len(best or ""):
            best = family
    if best is None and api.startswith("im."):
        return "im.read"
    return best


class RateLimitFeedback:
    """A `Metrics` that also tells ``limiter`` about Lark's rate-limit replies."""

    def __init__(self, inner: Metrics, limiter: RateLimiter) -> None:
        self._inner = inner
        self._limiter = limiter

    def rate_limited(self, *, app_id: str, api: str, reset: float | None = None) -> None:
        family = family_of(api)
        if family is not None:
            pause = RESET_SECONDS if reset is None else min(max(reset, 0.0), MAX_RESET_SECONDS)
            self._limiter.rate_limited(app_id, family, pause)
        self._inner.rate_limited(app_id=app_id, api=api, reset=reset)

    def api_call(self, *, app_id: str, api: str, outcome: str, seconds: float) -> None:
        self._inner.api_call(app_id=app_id, api=api, outcome=outcome, seconds=seconds)

    def token_fetch(self, *, app_id: str, kind: str, outcome: str) -> None:
        self._inner.token_fetch(app_id=app_id, kind=kind, outcome=outcome)

    def retry(self, *, app_id: str, api: str, reason: str) -> None:
        self._inner.retry(app_id=app_id, api=api, reason=reason)

    def __getattr__(self, name: str) -> Any:
        # methods the Metrics port gains later pass straight through
        return getattr(self._inner, name)
