"""Processes starting together on a fresh embedded SQLite file (issue 9's noticed race).

Without `first_start_lock`, two of them would both migrate ("database is locked") and both
write a key file, each encrypting with its own key: some secrets would never decrypt again.
"""

from __future__ import annotations

import os
import subprocess  # nosec B404 - the test starts lark-service itself
import sys
from pathlib import Path

import pytest

from lark_service.adapters.postgres import (
    SqlDatabase,
    embedded_database_url,
    sql_credential_stores,
)
from lark_service.adapters.postgres.embedded import first_start_lock
from lark_service.domain.errors import StoreError

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.anyio]

PROCESSES = 6
# the CLI, started only once every process is ready: the first starts are simultaneous
_AT_THE_GATE = """
import pathlib, sys, time
from lark_service.entrypoints import cli
gate, app_id = pathlib.Path(sys.argv[1]), sys.argv[2]
print("ready", flush=True)
deadline = time.monotonic() + 30
while not gate.exists() and time.monotonic() < deadline:
    time.sleep(0.001)
sys.exit(cli.main(["apps", "add", app_id]))
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_processes_starting_together_share_one_schema_and_one_key(tmp_path: Path) -> None:
    env = {**os.environ, "LARK_SERVICE_DATA_DIR": str(tmp_path), "LARK_SERVICE_LOG_LEVEL": "ERROR"}
    env.pop("LARK_SERVICE_DATABASE_URL", None)
    env.pop("LARK_SERVICE_SECRET_KEY", None)
    gate = tmp_path / "go"
    procs = [
        subprocess.Popen(  # nosec B603 - our own CLI, fixed arguments
            [sys.executable, "-c", _AT_THE_GATE, str(gate), f"cli_first{i}"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(PROCESSES)
    ]
    for proc in procs:  # each has imported everything and waits at the gate
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
    gate.touch()
    outcomes = [
        p.communicate(input=f"secret-{i}\n".encode(), timeout=60) for i, p in enumerate(procs)
    ]
    codes = [p.returncode for p in procs]
    assert codes == [0] * PROCESSES, [err.decode()[-400:] for _, err in outcomes]
    # one key opens every secret each process wrote
    db = await SqlDatabase.open(embedded_database_url(tmp_path), secret_key=None)
    try:
        apps = sql_credential_stores(db).apps
        secrets = {a.app_id: a.app_secret for a in await apps.list_apps()}
    finally:
        await db.aclose()
    assert secrets == {f"cli_first{i}": f"secret-{i}" for i in range(PROCESSES)}


async def test_the_lock_has_a_deadline_and_is_released(tmp_path: Path) -> None:
    db_file = tmp_path / "lark-service.db"
    async with first_start_lock(db_file):
        with pytest.raises(StoreError, match="held"):
            async with first_start_lock(db_file, within=0.2):
                pass  # pragma: no cover - never reached
    async with first_start_lock(db_file, within=0.2):  # released on exit
        pass
