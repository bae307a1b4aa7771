"""The service's commands: keys, serve (and --demo), send, worker, jobs dead list|replay.

Commands run in process through `cli.main` (in a thread: it runs its own event loop), except
``serve``, which runs as a child process on a free port and is reached over HTTP.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import httpx
import pytest

from lark_service.adapters.amqp import AmqpSendQueue, SendQueueOptions, Topology
from lark_service.adapters.amqp.dead_letters import LAST_ERROR_HEADER, encode_job
from lark_service.domain.jobs import QueueDepth
from lark_service.entrypoints.cli import main
from lark_service.testing.fake_lark import FakeLark
from tests.e2e.support import LarkServiceProcess
from tests.integration.amqp_scratch import AMQP_URL, make_job, scratch_prefix
from tests.unit.events_support import event_v2

pytestmark = [pytest.mark.integration]

STARTUP_DEADLINE = 60.0


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A data dir of this test's own (its embedded SQLite store); no inherited settings."""
    for name in ("DATABASE_URL", "AMQP_URL", "AMQP_PREFIX", "APPS_FILE", "BASE_URL", "CONFIG"):
        monkeypatch.delenv(f"LARK_SERVICE_{name}", raising=False)
    data = tmp_path / "data"
    monkeypatch.setenv("LARK_SERVICE_DATA_DIR", str(data))
    return data


async def run(argv: list[str]) -> int:
    return await asyncio.to_thread(main, argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, server: LarkServiceProcess) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"serve did not come up:\n{server.output()}")
        time.sleep(0.1)


@pytest.fixture
def serve(tmp_path: Path, isolated: Path) -> Iterator[tuple[str, LarkServiceProcess]]:
    port = free_port()
    env = {"LARK_SERVICE_DATA_DIR": str(isolated), "LARK_SERVICE_LOG_LEVEL": "WARNING"}
    server = LarkServiceProcess(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        yield url, server
    finally:
        if server.proc.poll() is None:
            server.terminate()


# -- keys ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_keys_create_list_revoke_on_the_embedded_sqlite_store(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await run(["keys", "create", "--scope", "send", "--scope", "read", "--name", "ci"]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert re.fullmatch(r"lks_[A-Za-z0-9_-]{43}", key)
    key_id = re.search(r"key id (\w+)", err)
    assert key_id is not None and "not shown again" in err

    assert await run(["keys", "list"]) == 0
    out, _ = capsys.readouterr()
    [line] = out.splitlines()
    fields = line.split("\t")
    assert fields[0] == key_id[1] and fields[1:3] == ["send,read", "ci"]
    assert fields[-1] == "active"
    assert key not in out  # never the key again

    assert await run(["keys", "revoke", key_id[1]]) == 0
    assert await run(["keys", "list"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[-1].endswith("\trevoked")

    assert await run(["keys", "revoke", "no-such-key"]) == 1
    assert "no API key" in capsys.readouterr().err


def test_keys_create_needs_a_known_scope(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["keys", "create", "--scope", "root"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# -- serve ---------------------------------------------------------------------------------------


def test_serve_answers_with_keys_made_by_the_cli_until_revoked(
    serve: tuple[str, LarkServiceProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    url, server = serve
    assert httpx.get(f"{url}/readyz", timeout=5).json()["checks"] == {"store": "ok"}
    assert main(["keys", "create", "--scope", "admin"]) == 0
    key = capsys.readouterr().out.strip()
    auth = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{url}/v1/apps", timeout=5).status_code == 401
    assert httpx.get(f"{url}/v1/apps", headers=auth, timeout=5).status_code == 200
    assert main(["keys", "list"]) == 0
    key_id = capsys.readouterr().out.split("\t")[0]
    assert main(["keys", "revoke", key_id]) == 0
    deadline = time.monotonic() + 30  # the service caches a found key for 10 s
    while httpx.get(f"{url}/v1/apps", headers=auth, timeout=5).status_code != 401:
        assert time.monotonic() < deadline, "the revoked key still works"
        time.sleep(0.5)
    assert server.terminate() == 0  # SIGTERM: a clean shutdown
    assert f"lark-service on {url}" in server.output()


def test_serve_demo_prints_a_key_that_sends_through_the_bundled_fake(tmp_path: Path) -> None:
    port = free_port()
    server = LarkServiceProcess(["serve", "--demo", "--port", str(port)], {}, tmp_path / "demo.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        deadline = time.monotonic() + 10
        while (found := re.search(r"demo admin key:\s+(\S+)", server.output())) is None:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        output = server.output()
        assert f"docs:             {url}/docs" in output
        assert "cli_demo_alerts, cli_demo_hr" in output
        auth = {"Authorization": f"Bearer {found[1]}"}
        body = {"receive_id": "oc_demo_chat", "msg_type": "text", "content": {"text": "hi"}}
        with httpx.Client(base_url=url, headers=auth, timeout=10) as client:
            sent = client.post("/v1/messages", json=body)
            assert sent.status_code == 200, sent.text
            assert sent.json()["message_id"].startswith("om_")
            as_hr = client.post("/v1/messages", json={**body, "app_id": "cli_demo_hr"})
            assert as_hr.json()["sender"]["id"] == "cli_demo_hr"
            queued = client.post("/v1/messages", json=body, headers={"Prefer": "respond-async"})
            assert queued.status_code == 202
            job_id = queued.json()["job_id"]
            deadline = time.monotonic() + 10
            while (job := client.get(f"/v1/jobs/{job_id}").json())["status"] != "sent":
                assert time.monotonic() < deadline, job
                time.sleep(0.05)
            assert client.get("/docs").status_code == 200
            assert (
                client.get("/v1/apps", headers={"Authorization": "Bearer nope"}).status_code == 401
            )
    finally:
        code = server.terminate()
    assert code == 0
    # the demo used memory only: the configured store was never created
    assert not (tmp_path / "data").exists()


# -- send ----------------------------------------------------------------------------------------


@pytest.fixture
def lark_app(fake: FakeLark, base_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    fake.add_app("cli_send", "secret-send")
    monkeypatch.setenv("LARK_APPS__SEND__APP_ID", "cli_send")
    monkeypatch.setenv("LARK_APPS__SEND__APP_SECRET", "secret-send")
    monkeypatch.setenv("LARK_SERVICE_BASE_URL", base_url)
    return "cli_send"


@pytest.mark.anyio
async def test_send_prints_the_message_id(
    lark_app: str, fake: FakeLark, capsys: pytest.CaptureFixture[str]
) -> None:
    dedup = uuid.uuid4().hex
    argv = ["send", "--chat-id", "oc_cli", "--uuid", dedup, "hello from a script"]
    assert await run(argv) == 0
    message_id = capsys.readouterr().out.strip()
    [sent] = fake.messages
    assert sent["message_id"] == message_id and sent["chat_id"] == "oc_cli"
    assert sent["app_id"] == lark_app
    assert await run(argv) == 0  # the same uuid: Lark answers with the same message
    assert capsys.readouterr().out.strip() == message_id and len(fake.messages) == 1
    assert await run(["send", "--open-id", "ou_someone", "--app-id", lark_app, "hi"]) == 0
    assert fake.messages[-1]["receive_id"] == "ou_someone"


@pytest.mark.anyio
async def test_send_exit_codes(
    lark_app: str, fake: FakeLark, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run(["send", "--chat-id", "oc_x", "--app-id", "cli_unknown", "hi"]) == 2
    assert "UnknownAppError" in capsys.readouterr().err
    fake.inject_fault("5xx", path_prefix="/open-apis/im/", count=10)
    assert await run(["send", "--chat-id", "oc_x", "hi"]) == 1
    assert "ServerError" in capsys.readouterr().err
    fake.clear_faults()
    assert await run(["send", "--chat-id", "not-a-chat", "hi"]) == 2  # before any call
    assert not fake.messages
    with pytest.raises(SystemExit) as exc:
        main(["send", "hi"])  # no receiver
    assert exc.value.code == 2


# -- worker and the dead-letter queue ------------------------------------------------------------


@pytest.mark.anyio
async def test_worker_and_jobs_dead_need_a_broker(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run(["worker"]) == 2
    assert "LARK_SERVICE_AMQP_URL" in capsys.readouterr().err
    assert await run(["jobs", "dead", "list"]) == 2
    assert await run(["jobs", "dead", "replay", "--all"]) == 2
    with pytest.raises(SystemExit):
        main(["jobs", "dead", "replay"])  # an id or --all


@pytest.fixture
async def broker(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    async with scratch_prefix(delays=(1.0, 5.0, 30.0, 120.0)) as prefix:
        monkeypatch.setenv("LARK_SERVICE_AMQP_URL", AMQP_URL)
        monkeypatch.setenv("LARK_SERVICE_AMQP_PREFIX", prefix)
        yield prefix


@pytest.mark.anyio
async def test_jobs_dead_list_and_replay(broker: str, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = [make_job(n, attempt=5) for n in range(3)]
    queue = await AmqpSendQueue.connect(AMQP_URL, SendQueueOptions(prefix=broker))  # declares
    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for job in jobs:
            await channel.default_exchange.publish(
                aio_pika.Message(
                    encode_job(job),
                    headers={LAST_ERROR_HEADER: f"ServerError: down {job.job_id[:4]}"},
                ),
                routing_key=Topology(prefix=broker).dead_queue,
            )
    assert await run(["jobs", "dead", "list"]) == 0
    out, err = capsys.readouterr()
    lines = [line.split("\t") for line in out.splitlines()]
    assert [f[0] for f in lines] == [j.job_id for j in jobs]
    assert lines[0][1:] == ["cli_test", "attempts=5", f"ServerError: down {jobs[0].job_id[:4]}"]
    assert "3 dead job(s)" in err
    assert await run(["jobs", "dead", "list", "--limit", "0"]) == 2

    assert await run(["jobs", "dead", "replay", jobs[1].job_id]) == 0
    assert capsys.readouterr().out.strip() == "replayed 1 job(s)"
    assert await run(["jobs", "dead", "replay", "no-such-job"]) == 1
    assert "no dead job" in capsys.readouterr().err

    try:
        assert await queue.depth() == QueueDepth(ready=1, dead=2)
        assert await run(["jobs", "dead", "replay", "--all"]) == 0
        assert capsys.readouterr().out.strip() == "replayed 2 job(s)"
        assert await queue.depth() == QueueDepth(ready=3, dead=0)
    finally:
        await queue.aclose()


@pytest.mark.anyio
async def test_worker_sends_queued_jobs_and_stops_on_sigterm(
    broker: str, fake: FakeLark, base_url: str, tmp_path: Path, isolated: Path
) -> None:
    fake.add_app("cli_worker", "secret-worker")
    apps_file = tmp_path / "apps.toml"
    apps_file.write_text(
        f'[[apps]]\napp_id = "cli_worker"\napp_secret = "secret-worker"\ndomain = "{base_url}"\n'
    )
    queue = await AmqpSendQueue.connect(AMQP_URL, SendQueueOptions(prefix=broker))
    jobs = [make_job(n, app_id="cli_worker") for n in range(5)]
    env = {
        "LARK_SERVICE_AMQP_URL": AMQP_URL,
        "LARK_SERVICE_AMQP_PREFIX": broker,
        "LARK_SERVICE_APPS_FILE": str(apps_file),
        "LARK_SERVICE_DATA_DIR": str(isolated),
    }
    worker = LarkServiceProcess(["worker", "--loop", "asyncio"], env, tmp_path / "worker.log")
    try:
        for job in jobs:
            await queue.publish(job)
        async with asyncio.timeout(STARTUP_DEADLINE):
            while len(fake.messages) < len(jobs):
                assert worker.proc.poll() is None, worker.output()
                await asyncio.sleep(0.1)
        assert {m["uuid"] for m in fake.messages} == {j.job_id for j in jobs}
        assert await asyncio.to_thread(worker.terminate) == 0
        assert await queue.depth() == QueueDepth(ready=0, dead=0)
    finally:
        if worker.proc.poll() is None:
            worker.proc.kill()
        await queue.aclose()


def test_serve_receives_events_over_the_long_connection(
    tmp_path: Path, isolated: Path, fake: FakeLark, base_url: str
) -> None:
    """An app in ``websocket`` event mode: ``serve`` dials out to Lark and takes its events
    there (no public URL needed), answering each once it is accepted (published)."""
    fake.add_app("cli_ws", "secret-ws")
    apps = tmp_path / "apps.toml"
    apps.write_text(
        '[[apps]]\napp_id = "cli_ws"\napp_secret = "secret-ws"\nevent_mode = "websocket"\n'
    )
    port = free_port()
    env = {
        "LARK_SERVICE_DATA_DIR": str(isolated),
        "LARK_SERVICE_LOG_LEVEL": "WARNING",
        "LARK_SERVICE_APPS_FILE": str(apps),
        "LARK_SERVICE_BASE_URL": base_url,
    }
    server = LarkServiceProcess(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        deadline = time.monotonic() + STARTUP_DEADLINE
        while fake.long_connections.connections("cli_ws") == 0:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        message_id = fake.push_ws_event("cli_ws", event_v2(app_id="cli_ws"))
        while not [a for a in fake.long_connections.acks("cli_ws") if a.message_id == message_id]:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        (ack,) = [a for a in fake.long_connections.acks("cli_ws") if a.message_id == message_id]
        assert ack.code == 200
        assert fake.long_connections.max_connections("cli_ws") == 1
    finally:
        server.terminate()
