"""Retry edges (issue 8 item 9): one budget per cause, non-JSON replies classified by status
and headers, and a 404 never retried."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
from starlette.responses import PlainTextResponse

from lark_service.adapters.lark_http import AiohttpLarkTransport, RetryPolicy
from lark_service.application import CredentialPool, MessagingClient
from lark_service.domain import (
    LarkRequest,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark.models import FakeRequest
from lark_service.testing.fake_lark.wire import HandlerResult

pytestmark = pytest.mark.anyio

EDGE = "/open-apis/retry_edges/v1/thing"
NOWHERE = "/open-apis/retry_edges/v1/nowhere"  # never routed: the fake's plain-text 404


class _NoJitter(random.Random):
    """Jitter of zero, so the delays the tests see are the ones the policy computes."""

    def uniform(self, a: float, b: float) -> float:
        return a


def _policy(**limits: int) -> RetryPolicy:
    return RetryPolicy(base_delay=0.001, max_delay=0.05, rng=_NoJitter(), **limits)


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpLarkTransport]:
    transport = AiohttpLarkTransport(retry=_policy())
    yield transport
    await transport.aclose()


def _request(
    base_url: str, method: str = "GET", *, idempotent: bool = True, path: str = EDGE
) -> LarkRequest:
    return LarkRequest(
        method=method, base_url=base_url, path=path, api="edge.thing", idempotent=idempotent
    )


def _serve(fake: FakeLark, method: str, replies: list[PlainTextResponse]) -> list[FakeRequest]:
    """Answer ``EDGE`` with ``replies`` in turn (then success); return the requests seen."""
    seen: list[FakeRequest] = []

    async def handler(req: FakeRequest) -> HandlerResult:
        seen.append(req)
        if len(seen) <= len(replies):
            return replies[len(seen) - 1]
        return {"ok": True}

    fake.add_route(method, EDGE, handler)
    return seen


def _plain_429(**headers: str) -> PlainTextResponse:
    return PlainTextResponse("Too Many Requests", status_code=429, headers=headers)


# -- one budget per cause -----------------------------------------------------------------


async def test_two_rate_limits_then_a_5xx_still_succeeds(
    pool: CredentialPool, fake: FakeLark
) -> None:
    client = MessagingClient(pool)
    await client.get_bot_info()
    fake.inject_fault("rate_limit", path_prefix="/open-apis/bot", count=2, retry_after=0.001)
    fake.inject_fault("5xx", path_prefix="/open-apis/bot", count=1, status=503)
    info = await client.get_bot_info()
    assert info.app_name == "App 0"
    assert len([r for r in fake.requests if r.path.startswith("/open-apis/bot")]) == 1 + 4


async def test_interleaved_causes_each_keep_their_budget(fake: FakeLark, base_url: str) -> None:
    # 5xx, 429, 5xx, 429, then success: two retries of each cause, within both budgets
    # (3 attempts for server errors, 5 rate-limit retries).
    busy = _plain_429(**{"x-ogw-ratelimit-reset": "0.001"})
    broken = PlainTextResponse("Bad Gateway", status_code=502)
    seen = _serve(fake, "GET", [broken, busy, broken, busy])
    transport = AiohttpLarkTransport(retry=_policy())
    try:
        reply = await transport.call(_request(base_url))
    finally:
        await transport.aclose()
    assert reply.code == 0 and len(seen) == 5


async def test_server_error_budget_is_still_bounded_among_rate_limits(
    fake: FakeLark, base_url: str
) -> None:
    busy = _plain_429(**{"x-ogw-ratelimit-reset": "0.001"})
    broken = PlainTextResponse("Bad Gateway", status_code=502)
    seen = _serve(fake, "GET", [broken, busy, broken, busy, broken, busy])
    transport = AiohttpLarkTransport(retry=_policy(max_attempts=3))
    try:
        with pytest.raises(ServerError) as info:
            await transport.call(_request(base_url))
    finally:
        await transport.aclose()
    assert info.value.http_status == 502 and len(seen) == 5


def test_budget_counts_causes_separately() -> None:
    policy = _policy(max_attempts=2, max_rate_limit_retries=2)
    budget = policy.start()
    req = LarkRequest(method="GET", base_url="http://x", path=EDGE, idempotent=True)
    limited = RateLimitedError("busy", retry_after=0.03, http_status=429)
    failed = ServerError("boom", http_status=500)
    assert budget.next_delay(req, limited) == 0.03
    assert budget.next_delay(req, failed) == 0.0
    assert budget.next_delay(req, limited) == 0.03
    assert budget.next_delay(req, limited) is None  # 2 rate-limit retries spent
    assert budget.next_delay(req, TransportError("reset")) is None  # 1 of 1 failure retry spent
    assert policy.start().next_delay(req, failed) == 0.0  # a new call starts afresh


# -- non-JSON replies are classified by status and headers --------------------------------


@pytest.mark.parametrize(
    "header", ["x-ogw-ratelimit-reset", "Retry-After"], ids=["lark-reset", "retry-after"]
)
async def test_plain_text_429_honours_its_reset_header(
    fake: FakeLark, base_url: str, header: str
) -> None:
    seen = _serve(fake, "GET", [_plain_429(**{header: "0.02"})] * 10)
    transport = AiohttpLarkTransport(retry=_policy(max_rate_limit_retries=1))
    try:
        with pytest.raises(RateLimitedError) as info:
            await transport.call(_request(base_url))
    finally:
        await transport.aclose()
    err = info.value
    assert (err.retry_after, err.http_status, err.api) == (0.02, 429, "edge.thing")
    assert len(seen) == 2  # one retry, as the rate-limit budget allows


async def test_plain_text_429_on_a_post_is_retried(
    fake: FakeLark, base_url: str, transport: AiohttpLarkTransport
) -> None:
    # A 429 means Lark did not execute the request, so even a POST without uuid is repeated.
    seen = _serve(fake, "POST", [_plain_429(**{"x-ogw-ratelimit-reset": "0.001"})])
    reply = await transport.call(_request(base_url, "POST", idempotent=False))
    assert reply.code == 0 and len(seen) == 2


async def test_plain_text_404_is_not_retried(
    fake: FakeLark, base_url: str, transport: AiohttpLarkTransport
) -> None:
    with pytest.raises(NotFoundError) as info:
        await transport.call(_request(base_url, path=NOWHERE))
    assert info.value.http_status == 404 and info.value.code == -2
    assert len([r for r in fake.requests if r.path == NOWHERE]) == 1


async def test_html_404_from_a_gateway_is_not_retried(
    fake: FakeLark, base_url: str, transport: AiohttpLarkTransport
) -> None:
    seen = _serve(fake, "GET", [PlainTextResponse("<html>not here</html>", status_code=404)])
    with pytest.raises(NotFoundError):
        await transport.call(_request(base_url))
    assert len(seen) == 1


def test_policy_never_retries_a_404_whatever_its_type() -> None:
    req = LarkRequest(method="GET", base_url="http://x", path=EDGE, idempotent=True)
    odd = ServerError("internal error", code=1000, http_status=404)
    assert _policy().start().next_delay(req, odd) is None


async def test_unreadable_success_reply_is_still_a_retried_server_error(
    fake: FakeLark, base_url: str, transport: AiohttpLarkTransport
) -> None:
    seen = _serve(fake, "GET", [PlainTextResponse("garbage", status_code=200)])
    reply = await transport.call(_request(base_url))
    assert reply.code == 0 and len(seen) == 2
