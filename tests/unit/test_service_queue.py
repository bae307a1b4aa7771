"""InMemorySendQueue: delivery, retries with backoff (injected sleep), dead letters, replay."""

from __future__ import annotations

import asyncio

import pytest

from lark_service.adapters.memory.send_queue import InMemorySendQueue
from lark_service.domain.jobs import JobOutcome, SendJob

pytestmark = pytest.mark.anyio


def job(job_id: str = "j1") -> SendJob:
    return SendJob(
        job_id=job_id,
        app_id="cli_a",
        receive_id="oc_1",
        receive_id_type="chat_id",
        msg_type="text",
        content='{"text":"x"}',
    )


class Sleeps:
    """Records the backoff asked for instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


async def test_done_on_first_delivery() -> None:
    queue = InMemorySendQueue()
    seen: list[SendJob] = []

    async def handler(j: SendJob) -> JobOutcome:
        seen.append(j)
        return JobOutcome.DONE

    await queue.consume(handler, prefetch=2)
    await queue.publish(job())
    await queue.join(within=2)
    assert [j.attempt for j in seen] == [0]
    assert (await queue.depth()).ready == 0
    await queue.aclose()


async def test_retry_with_backoff_then_dead_with_hook() -> None:
    sleeps = Sleeps()
    dead: list[tuple[str, str]] = []

    async def on_dead(j: SendJob, reason: str) -> None:
        dead.append((j.job_id, reason))

    queue = InMemorySendQueue(max_attempts=4, base_delay=0.5, sleep=sleeps)
    attempts: list[int] = []

    async def handler(j: SendJob) -> JobOutcome:
        attempts.append(j.attempt)
        return JobOutcome.RETRY

    await queue.consume(handler, on_dead=on_dead)
    await queue.publish(job())
    await queue.join(within=2)
    assert attempts == [0, 1, 2, 3]
    assert sleeps.delays == [0.5, 1.0, 2.0]
    assert dead == [("j1", "too many attempts")]
    assert await queue.depth() == type(await queue.depth())(ready=0, dead=1)
    assert [j.job_id for j in await queue.dead_letters()] == ["j1"]
    await queue.aclose()


async def test_handler_exception_is_retried_and_dead_is_immediate() -> None:
    queue = InMemorySendQueue(max_attempts=3, sleep=Sleeps())
    calls: dict[str, int] = {}

    async def handler(j: SendJob) -> JobOutcome:
        calls[j.job_id] = calls.get(j.job_id, 0) + 1
        if j.job_id == "boom" and j.attempt == 0:
            raise RuntimeError("transient bug")
        return JobOutcome.DEAD if j.job_id == "poison" else JobOutcome.DONE

    await queue.consume(handler)
    await queue.publish(job("boom"))
    await queue.publish(job("poison"))
    await queue.join(within=2)
    assert calls == {"boom": 2, "poison": 1}
    assert [j.job_id for j in await queue.dead_letters()] == ["poison"]
    await queue.aclose()


async def test_replay_dead_resets_attempts() -> None:
    queue = InMemorySendQueue(max_attempts=1, sleep=Sleeps())
    healthy = False
    attempts: list[int] = []

    async def handler(j: SendJob) -> JobOutcome:
        attempts.append(j.attempt)
        return JobOutcome.DONE if healthy else JobOutcome.RETRY

    await queue.consume(handler)
    for i in range(3):
        await queue.publish(job(f"j{i}"))
    await queue.join(within=2)
    assert (await queue.depth()).dead == 3
    healthy = True
    assert await queue.replay_dead("j1") == 1
    assert await queue.replay_dead("nope") == 0
    assert await queue.replay_dead() == 2
    await queue.join(within=2)
    assert (await queue.depth()).dead == 0 and attempts == [0] * 6
    await queue.aclose()
    with pytest.raises(RuntimeError):
        await queue.publish(job())
