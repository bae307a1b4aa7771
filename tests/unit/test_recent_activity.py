"""The console's last-hour record: minute buckets on a manual clock, and the metrics tee."""

from __future__ import annotations

import pytest

from lark_service.adapters.memory import InMemoryMetrics, ManualClock
from lark_service.adapters.memory.recent_activity import (
    CallCounts,
    RecentActivity,
    RecentActivityMetrics,
    Rejection,
    recent_activity_of,
)
from lark_service.domain.ports.metrics import NullMetrics


def test_calls_leave_the_window_an_hour_later_bucket_by_bucket() -> None:
    clock = ManualClock(start=1_000_000.0)
    recent = RecentActivity(clock)
    recent.api_call("cli_a", ok=True)
    recent.api_call("cli_a", ok=False)
    clock.advance(1800)
    recent.api_call("cli_a", ok=True)
    recent.api_call("cli_b", ok=True)
    assert recent.calls() == {"cli_a": CallCounts(3, 1), "cli_b": CallCounts(1, 0)}
    clock.advance(1800)  # the first minute's bucket is now 60 buckets old
    assert recent.calls() == {"cli_a": CallCounts(1, 0), "cli_b": CallCounts(1, 0)}
    clock.advance(3600)
    assert recent.calls() == {}


def test_memory_is_bounded_by_the_number_of_buckets() -> None:
    clock = ManualClock(start=0.0)
    recent = RecentActivity(clock, window=600, bucket=60)
    for _ in range(1000):
        recent.api_call("cli_a", ok=True)
        clock.advance(30)
    assert len(recent._buckets) == 10
    # the window is the current minute (no call in it yet) and the 9 before: 2 calls each
    assert recent.calls()["cli_a"].calls == 18


def test_events_are_counted_and_rejections_kept_newest_first_and_bounded() -> None:
    clock = ManualClock(start=5000.0)
    recent = RecentActivity(clock, max_rejections=3)
    recent.event_received("cli_a", "im.message.receive_v1")
    recent.event_received("cli_a", "im.message.receive_v1")
    recent.event_deduplicated("cli_a", "im.message.receive_v1")
    for n in range(5):
        clock.advance(1)
        recent.event_rejected("cli_a", "unknown", f"Reason{n}")
    events = recent.events()
    assert events.received == {("cli_a", "im.message.receive_v1"): 2}
    assert events.deduplicated == {("cli_a", "im.message.receive_v1"): 1}
    assert sum(events.rejected.values()) == 5
    assert recent.rejections() == [
        Rejection("cli_a", "unknown", "Reason4", 5005.0),
        Rejection("cli_a", "unknown", "Reason3", 5004.0),
        Rejection("cli_a", "unknown", "Reason2", 5003.0),
    ]
    clock.advance(3600)
    assert recent.rejections() == [] and recent.events().rejected == {}


def test_a_token_fetch_failure_is_kept_until_a_fetch_succeeds() -> None:
    clock = ManualClock(start=10.0)
    recent = RecentActivity(clock)
    recent.token_fetch("cli_a", "tenant", "AuthError")
    failure = recent.token_fetch_failure("cli_a")
    assert failure is not None and failure.outcome == "AuthError" and failure.at == 10.0
    recent.token_fetch("cli_a", "tenant", "ok")
    assert recent.token_fetch_failure("cli_a") is None


def test_the_tee_forwards_everything_and_records_the_console_counts() -> None:
    clock = ManualClock(start=0.0)
    inner = InMemoryMetrics()
    tee = RecentActivityMetrics(inner, RecentActivity(clock))
    tee.api_call(app_id="cli_a", api="im.message.create", outcome="ok", seconds=0.1)
    tee.api_call(app_id="cli_a", api="im.message.create", outcome="ServerError", seconds=0.1)
    tee.event_received(app_id="cli_a", event_type="t")
    tee.event_rejected(app_id="cli_a", event_type="unknown", reason="SignatureError")
    tee.event_deduplicated(app_id="cli_a", event_type="t")
    tee.token_fetch(app_id="cli_a", kind="tenant", outcome="ok")
    tee.token_refresh(app_id="cli_a", kind="user", outcome="ok")
    tee.retry(app_id="cli_a", api="x", reason="r")
    tee.rate_limited(app_id="cli_a", api="x")
    tee.limiter_wait(app_id="cli_a", family="f", seconds=1.0)
    tee.http_request(route="/v1/x", method="GET", status=200, seconds=0.01)
    tee.send_job(app_id="cli_a", outcome="sent")
    tee.queue_depth(queue="lark.send", messages=3)
    assert sum(inner.calls.values()) == 2 and inner.events_rejected
    assert inner.events_received and inner.events_deduplicated and inner.token_fetches
    assert inner.token_refreshes and inner.retries and inner.rate_limits
    assert inner.limiter_waits and inner.http_requests and inner.send_jobs
    assert inner.queue_depths == {"lark.send": 3}
    recent = recent_activity_of(tee)
    assert recent is not None and recent.calls() == {"cli_a": CallCounts(2, 1)}
    assert recent_activity_of(inner) is None and recent_activity_of(NullMetrics()) is None


def test_a_window_shorter_than_a_bucket_is_refused() -> None:
    with pytest.raises(ValueError):
        RecentActivity(ManualClock(), window=30, bucket=60)
