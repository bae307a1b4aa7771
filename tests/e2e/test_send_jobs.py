"""2,000 send jobs through the HTTP API, RabbitMQ and a worker process, with faults.

The fake Lark server fails 10% of sends with HTTP 500 (and every send to a "poison" chat, so
some jobs must end dead-lettered); the worker (``lark-service worker``, a separate process) is
SIGKILLed and restarted once mid-run, and its broker connection is cut once mid-run through a
TCP proxy. Every job must end as exactly one message at the fake (its uuid is the job id) or
exactly one entry in ``lark.send.dead``: nothing lost, nothing sent twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from dependency_injector import providers

from lark_service.adapters.amqp import AmqpSendQueue
from lark_service.adapters.postgres import generate_key, upgrade_async
from lark_service.domain import AppConfig
from lark_service.entrypoints.bootstrap import application
from lark_service.entrypoints.http import create_app
from lark_service.entrypoints.http.wiring import open_services
from lark_service.entrypoints.settings import Settings
from lark_service.testing.fake_lark import FakeLark, serve_in_thread
from tests.e2e.support import (
    FlakySends,
    LarkServiceProcess,
    TcpProxy,
    apps_toml,
    scratch_postgres,
)
from tests.integration.amqp_scratch import AMQP_URL, scratch_prefix

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.anyio,
    pytest.mark.timeout(240),  # the run has its own deadline; this bounds set-up and teardown
]

JOBS = 2000
POISONED = 20  # jobs to a chat whose every send fails: they must end dead-lettered
APPS = 10  # Lark allows 50 sends/s per app: the jobs are spread over several apps
CHATS = 500  # and 5/s per chat
MAX_ATTEMPTS = 4
RETRY_DELAYS = (0.2, 0.5)
ADMIN_KEY = "e2e-admin-key-0123456789abcdef"
DEADLINE = 90.0  # the whole run, enqueue to the last job settled


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async with scratch_prefix(delays=RETRY_DELAYS) as p:
        yield p


async def test_2000_jobs_survive_faults_a_worker_kill_and_a_broker_cut(
    prefix: str, tmp_path: Path
) -> None:
    fake = FakeLark(realtime=True)
    fake.state["im_rate_scale"] = 0  # the client shapes to Lark's limits; only 5xx are injected
    apps = [(f"cli_e2e{i}", f"secret-e2e-{i}") for i in range(APPS)]
    for app_id, secret in apps:
        fake.add_app(app_id, secret)
    flaky = FlakySends(fake.app, rate=0.1)
    fake.app = flaky
    running = serve_in_thread(fake)
    proxy = TcpProxy("127.0.0.1", int(AMQP_URL.rsplit(":", 1)[1].split("/")[0]))
    workers: list[LarkServiceProcess] = []
    try:
        async with scratch_postgres() as database_url:
            await upgrade_async(database_url)
            secret_key = generate_key()
            apps_file = tmp_path / "apps.toml"
            apps_file.write_text(apps_toml(apps, running.base_url))
            worker_env = {
                "LARK_SERVICE_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{proxy.port}/",
                "LARK_SERVICE_AMQP_PREFIX": prefix,
                "LARK_SERVICE_DATABASE_URL": database_url,
                "LARK_SERVICE_SECRET_KEY": secret_key,
                "LARK_SERVICE_APPS_FILE": str(apps_file),
                "LARK_SERVICE_SEND_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
                "LARK_SERVICE_SEND_RETRY_DELAYS": ",".join(map(str, RETRY_DELAYS)),
                "LARK_SERVICE_LOG_LEVEL": "WARNING",
                "XDG_DATA_HOME": str(tmp_path / "data"),
            }

            def start_worker() -> None:
                n = len(workers) + 1
                workers.append(
                    LarkServiceProcess(
                        ["worker", "--prefetch", "32"], worker_env, tmp_path / f"worker{n}.log"
                    )
                )

            start_worker()
            settings = Settings(
                database_url=database_url,
                secret_key=secret_key,
                amqp_url=AMQP_URL,
                amqp_prefix=prefix,
                send_max_attempts=MAX_ATTEMPTS,
                send_retry_delays=RETRY_DELAYS,
                data_dir=str(tmp_path / "data"),
            )
            async with application(settings) as app:
                configs = [
                    AppConfig(app_id=a, app_secret=s, domain=running.base_url) for a, s in apps
                ]
                app.services.apps.override(providers.Object(configs))
                pool = await app.services.pool()
                queue = await app.gateways.send_queue()
                assert isinstance(queue, AmqpSendQueue)
                async with (
                    open_services(
                        pool,
                        jobs=await app.gateways.jobs(),
                        api_keys=await app.gateways.api_keys(),
                        queue=queue,
                        admin_key=ADMIN_KEY,
                        max_attempts=MAX_ATTEMPTS,
                    ) as services,
                    # in this event loop (Litestar's test client runs the app in another
                    # thread, which the broker connection, owned by this loop, cannot serve)
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=create_app(services)),  # type: ignore[arg-type]
                        base_url="http://service",
                    ) as client,
                ):
                    report = await _run(client, queue, flaky, proxy, workers, start_worker)
                    records = {
                        job_id: await services.sending.jobs.get_job(job_id)
                        for job_id in report.job_ids
                    }
            exit_code = workers[-1].terminate()
    finally:
        for worker in workers:
            if worker.proc.poll() is None:
                worker.proc.kill()
        proxy.close()
        running.stop()

    # -- the counts ---------------------------------------------------------------------------
    job_ids = report.job_ids
    messages = [m for m in fake.messages if m.get("uuid")]
    per_uuid = Counter(m["uuid"] for m in messages)
    dead_ids = Counter(report.dead)
    requests, failed, accepted = flaky.snapshot()
    delivered = set(per_uuid)
    lost = job_ids - delivered - set(dead_ids)
    duplicated = {j for j, n in per_uuid.items() if n > 1} | {
        j for j, n in dead_ids.items() if n > 1
    }
    both = delivered & set(dead_ids)
    statuses = Counter(r.status if r else "missing" for r in records.values())
    print(
        f"\n{len(job_ids)} jobs: {len(delivered)} messages at the fake, "
        f"{sum(dead_ids.values())} dead letters; lost {len(lost)}, duplicated "
        f"{len(duplicated)}, both sent and dead {len(both)}\n"
        f"send requests at the fake: {requests} ({failed} failed with 5xx, "
        f"{sum(accepted.values())} accepted, of which {sum(accepted.values()) - len(accepted)} "
        f"were resends that Lark's uuid dedup answered with the same message)\n"
        f"worker SIGKILLed and restarted {len(workers) - 1}x, broker connections cut "
        f"{report.cut} (proxy cuts {proxy.cuts}), job records {dict(statuses)}, "
        f"{report.elapsed:.1f}s"
    )
    assert len(job_ids) == JOBS
    assert len(workers) == 2 and proxy.cuts == 1 and report.cut >= 1
    assert not lost, f"lost jobs: {sorted(lost)[:5]}"
    assert not duplicated, f"duplicated: {sorted(duplicated)[:5]}"
    assert not both, f"sent and dead: {sorted(both)[:5]}"
    assert set(per_uuid) <= job_ids  # no message that was not a job
    assert set(dead_ids) == report.poisoned  # exactly the jobs that could not be sent
    assert len(delivered) == JOBS - POISONED
    for job_id in delivered:  # the job store agrees with the fake
        record = records[job_id]
        assert record is not None and record.status == "sent", record
    by_uuid = {m["uuid"]: m["message_id"] for m in messages}
    assert all(records[j].message_id == by_uuid[j] for j in delivered)  # type: ignore[union-attr]
    assert exit_code == 0  # SIGTERM: the restarted worker drained and exited cleanly


class _Report:
    def __init__(self) -> None:
        self.job_ids: set[str] = set()
        self.poisoned: set[str] = set()
        self.dead: list[str] = []
        self.cut = 0
        self.elapsed = 0.0


async def _run(
    client: httpx.AsyncClient,
    queue: AmqpSendQueue,
    flaky: FlakySends,
    proxy: TcpProxy,
    workers: list[LarkServiceProcess],
    start_worker: object,
) -> _Report:
    report = _Report()
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Prefer": "respond-async"}
    poison_every = JOBS // POISONED

    async def enqueue(n: int) -> None:
        poisoned = n % poison_every == 0
        chat = f"oc_poison_{n}" if poisoned else f"oc_chat_{n % CHATS}"
        body = {
            "app_id": f"cli_e2e{n % APPS}",
            "receive_id": chat,
            "msg_type": "text",
            "content": {"text": f"job {n}"},
        }
        response = await client.post("/v1/messages", json=body, headers=headers)
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        report.job_ids.add(job_id)
        if poisoned:
            report.poisoned.add(job_id)

    async def enqueue_all() -> None:
        for batch in range(0, JOBS, 50):
            await asyncio.gather(*(enqueue(n) for n in range(batch, min(batch + 50, JOBS))))

    enqueuing = asyncio.create_task(enqueue_all())
    killed = False
    try:
        async with asyncio.timeout(DEADLINE):
            while True:
                await asyncio.sleep(0.1)
                if enqueuing.done():
                    enqueuing.result()  # an enqueue failure fails the test here
                _, _, accepted = flaky.snapshot()
                done = len(accepted)
                if not killed and done >= JOBS // 4:
                    workers[-1].kill()
                    assert callable(start_worker)
                    start_worker()
                    killed, after_restart = True, done
                elif killed and not proxy.cuts and done >= after_restart + JOBS // 4:
                    report.cut = proxy.cut()
                if not (enqueuing.done() and killed and proxy.cuts):
                    continue
                depth = await queue.depth()
                if depth.ready == 0 and done + depth.dead >= JOBS:
                    break
        # settled: nothing may arrive late (a second send, a second dead letter)
        await asyncio.sleep(1.0)
        report.dead = [e.job.job_id for e in await queue.dead_letter_entries(limit=10_000)]
    except TimeoutError:
        logs = "\n".join(w.output()[-3000:] for w in workers)
        raise AssertionError(f"not settled within {DEADLINE}s; worker logs:\n{logs}") from None
    finally:
        if not enqueuing.done():
            enqueuing.cancel()
    report.elapsed = time.monotonic() - started
    return report
