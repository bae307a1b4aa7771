"""The client-side limiter's schedule, on a manual clock (no sleeping)."""

from __future__ import annotations

from lark_service.application.rate_limit import DEFAULT_LIMITS, Limit, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _starts(limiter: RateLimiter, clock: Clock, n: int, subject: str | None = None) -> list[float]:
    out = []
    for _ in range(n):
        wait = limiter.reserve_subject("app", "f", subject) if subject else 0.0
        clock_t = clock.t
        clock.t += wait
        out.append(clock.t + limiter.reserve("app", "f"))
        clock.t = clock_t
    return out


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = 0
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_per_second_and_per_minute_windows_are_never_exceeded() -> None:
    clock = Clock()
    limiter = RateLimiter({"f": Limit(per_second=50, per_minute=1000)}, clock=clock)
    starts = _starts(limiter, clock, 3000)
    assert _max_in_window(starts, 1.0) <= 50
    assert _max_in_window(starts, 60.0) <= 1000
    assert starts[:50] == [100.0] * 50  # a burst within the limit is not delayed


def test_per_subject_limit() -> None:
    clock = Clock()
    limiter = RateLimiter({"f": Limit(per_second=50, per_subject_per_second=5)}, clock=clock)
    starts = _starts(limiter, clock, 100, subject="oc_chat")
    assert _max_in_window(starts, 1.0) <= 5
    assert max(starts) - min(starts) >= 19.0 - 1e-9


def test_unknown_family_is_not_limited() -> None:
    limiter = RateLimiter()
    assert limiter.reserve("app", "nope") == 0.0
    assert limiter.reserve_subject("app", "nope", "x") == 0.0


def test_scale() -> None:
    limiter = RateLimiter(scale=10)
    assert limiter.limits["im.message.send"].per_subject_per_second == 50
    assert DEFAULT_LIMITS["im.message.send"].per_subject_per_second == 5
