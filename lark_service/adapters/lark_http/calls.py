"""What every Lark transport does around one HTTP exchange, whatever carries the bytes.

`call_with_retries` is the retry loop (rate limits, 5xx and transport errors per
`RetryPolicy`, counted in `Metrics`); `request_headers` the headers of a request. The aiohttp
transport and the test kit's in-process transport both use them, so a fake Lark reached
without a socket sees the same requests and the caller the same errors and retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from lark_service.adapters.lark_http.retry import RetryPolicy
from lark_service.domain.errors import LarkServiceError, RateLimitedError
from lark_service.domain.ports.metrics import Metrics
from lark_service.domain.wire import LarkReply, LarkRequest

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
USER_AGENT = "lark-service/0.1"

Attempt = Callable[[LarkRequest], Awaitable[LarkReply | LarkServiceError]]
"""One exchange: the reply, or the typed error it ended in (returned, not raised)."""

Sleep = Callable[[float], Awaitable[None]]


async def call_with_retries(
    request: LarkRequest,
    attempt: Attempt,
    *,
    retry: RetryPolicy,
    metrics: Metrics,
    sleep: Sleep = asyncio.sleep,
) -> LarkReply:
    """Run ``attempt`` until it succeeds or ``retry`` gives up; raise the last error."""
    # one budget per cause: rate-limit retries do not use up the 5xx/transport budget
    retries = retry.start()
    while True:
        result = await attempt(request)
        if isinstance(result, LarkReply):
            return result
        if isinstance(result, RateLimitedError):
            metrics.rate_limited(app_id=request.app_id, api=request.api, reset=result.retry_after)
        delay = retries.next_delay(request, result)
        if delay is None:
            raise result
        metrics.retry(app_id=request.app_id, api=request.api, reason=type(result).__name__)
        await sleep(delay)


def request_headers(request: LarkRequest) -> dict[str, str]:
    """Authorization and the caller's extra headers (not Content-Type: that depends on
    how the body is carried)."""
    headers: dict[str, str] = {}
    if request.token:
        headers["Authorization"] = "Bearer " + request.token
    if request.headers:
        headers.update(request.headers)
    return headers
