"""How the limiter is configured and fed: the URL setting, Lark's rate-limit replies through
the Metrics port, receivers shared by apps, and the composition root's default."""

from __future__ import annotations

import pytest

from lark_service.adapters.memory import InMemoryMetrics
from lark_service.adapters.shared_limits import open_redis_budget
from lark_service.application.rate_limit import Limit, RateLimiter
from lark_service.application.rate_limit_feedback import RateLimitFeedback, family_of
from lark_service.domain.errors import ConfigError
from lark_service.entrypoints.bootstrap import application
from lark_service.entrypoints.settings import Settings, load_settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


def test_rate_limit_url_must_be_redis_and_is_redacted() -> None:
    with pytest.raises(ConfigError, match="LARK_SERVICE_RATE_LIMIT_URL"):
        Settings(rate_limit_url="postgresql://db/x")
    with pytest.raises(ConfigError, match="LARK_SERVICE_RATE_LIMIT_URL"):
        load_settings(environ={"LARK_SERVICE_RATE_LIMIT_URL": "http://x"})
    settings = Settings(rate_limit_url="redis://u:s3cret@cache:6379/0")
    assert "s3cret" not in repr(settings)
    with pytest.raises(ConfigError, match="rate_limit_url"):
        open_redis_budget("memcached://x")


def test_the_key_prefix_comes_from_the_url_without_connecting() -> None:
    budget = open_redis_budget("redis://127.0.0.1:1/0?key_prefix=tenant7")
    assert budget._members == "tenant7{rl}:members"


@pytest.mark.parametrize(
    ("api", "family"),
    [
        ("im.message.create", "im.message.send"),
        ("im.message.reply", "im.message.send"),
        ("im.message.patch", "im.message.write"),
        ("im.chat.get", "im.read"),
        ("docx.block.patch", "docx"),
        ("contact.user.get", "contact"),
        ("drive.file.list", "drive"),
        ("bot.info", None),
    ],
)
def test_family_of_api(api: str, family: str | None) -> None:
    assert family_of(api) == family


def test_a_rate_limit_reply_reported_by_the_transport_pauses_the_family() -> None:
    clock = Clock()
    limiter = RateLimiter({"im.message.send": Limit(per_second=50)}, clock=clock)
    inner = InMemoryMetrics()
    metrics = RateLimitFeedback(inner, limiter)
    assert limiter.reserve("cli_a", "im.message.send") == 0.0
    metrics.rate_limited(app_id="cli_a", api="im.message.create")
    metrics.retry(app_id="cli_a", api="im.message.create", reason="RateLimitedError")
    assert inner.rate_limits[("cli_a", "im.message.create")] == 1  # still counted
    assert limiter.stats.rate_limited == 1
    assert limiter.reserve("cli_a", "im.message.send") == pytest.approx(1.0)
    assert limiter.reserve("cli_b", "im.message.send") == 0.0  # other apps unaffected
    metrics.rate_limited(app_id="cli_a", api="bot.info")  # no family: counted only
    assert limiter.stats.rate_limited == 1


def test_the_pause_lasts_larks_reset_header_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter({"im.message.send": Limit(per_second=50)}, clock=clock)
    metrics = RateLimitFeedback(InMemoryMetrics(), limiter)
    metrics.rate_limited(app_id="cli_a", api="im.message.create", reset=4.0)
    assert limiter.reserve("cli_a", "im.message.send") == pytest.approx(4.0)
    metrics.rate_limited(app_id="cli_b", api="im.message.create", reset=86_400.0)
    assert limiter.reserve("cli_b", "im.message.send") == pytest.approx(60.0)  # not believed
    metrics.rate_limited(app_id="cli_c", api="im.message.create", reset=-5.0)
    assert limiter.reserve("cli_c", "im.message.send") == 0.0


@pytest.mark.anyio
async def test_receivers_are_shared_by_the_apps_in_one_process() -> None:
    clock = Clock()
    limiter = RateLimiter(
        {"f": Limit(per_second=50, per_subject_per_second=2)}, clock=clock, margin=0.0
    )
    assert limiter.reserve_subject("", "f", "oc_chat") == 0.0
    await limiter.acquire("cli_a", "f", "oc_chat")  # the chat's second slot in this second
    # a third call to the chat, from another app, waits for the next second
    assert limiter.reserve_subject("", "f", "oc_chat") == pytest.approx(1.0)
    assert limiter.stats.waits == {}


@pytest.mark.anyio
async def test_without_a_url_the_composition_root_builds_a_local_limiter() -> None:
    async with application(Settings()) as app:
        limiter = await app.core.limiter()
        assert isinstance(limiter, RateLimiter) and limiter.shared is None
        pool = await app.services.pool()
        assert pool.limiter is limiter
