"""``lark-service apps ...`` against an SQLite store and the fake Lark server."""

from __future__ import annotations

import io
import sys

import pytest

from lark_service.entrypoints.cli import main
from lark_service.testing.fake_lark import FakeLark

pytestmark = pytest.mark.integration


def run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin: str = "",
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_apps_lifecycle(tmp_path, monkeypatch, capsys, fake: FakeLark, base_url: str):
    monkeypatch.setenv("LARK_SERVICE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LARK_SERVICE_DATABASE_URL", raising=False)
    monkeypatch.delenv("LARK_SERVICE_SECRET_KEY", raising=False)
    fake.add_app("cli_cmd", "SUPERSECRET-1", name="Cmd")

    code, out = run(
        monkeypatch,
        capsys,
        ["apps", "add", "cli_cmd", "--name", "Cmd", "--domain", base_url],
        "SUPERSECRET-1\n",
    )
    assert code == 0 and "added cli_cmd" in out
    code, out = run(monkeypatch, capsys, ["apps", "list"])
    assert code == 0 and "cli_cmd" in out and str(tmp_path) in out and "embedded default" in out
    assert "SUPERSECRET-1" not in out
    code, out = run(monkeypatch, capsys, ["apps", "show", "cli_cmd"])
    assert "cli_cmd" in out and "SUPERSECRET-1" not in out
    code, out = run(monkeypatch, capsys, ["apps", "validate", "cli_cmd"])
    assert code == 0 and "credentials work" in out
    fake.add_app("cli_cmd", "ROTATED-2", name="Cmd")
    code, out = run(monkeypatch, capsys, ["apps", "validate", "cli_cmd"])
    assert code == 1 and "AuthError" in out and "SUPERSECRET-1" not in out
    code, out = run(monkeypatch, capsys, ["apps", "rotate-secret", "cli_cmd"], "ROTATED-2\n")
    assert code == 0
    code, out = run(monkeypatch, capsys, ["apps", "validate", "cli_cmd"])
    assert code == 0
    code, out = run(monkeypatch, capsys, ["apps", "disable", "cli_cmd"])
    code, out = run(monkeypatch, capsys, ["apps", "list"])
    assert "disabled" in out
    code, out = run(monkeypatch, capsys, ["apps", "enable", "cli_cmd"])
    code, out = run(monkeypatch, capsys, ["apps", "add", "cli_cmd"], "x\n")
    assert code == 2 and "already exists" in out
    code, out = run(monkeypatch, capsys, ["apps", "add", "cli_empty"], "\n")
    assert code == 2 and "no secret" in out
    code, out = run(monkeypatch, capsys, ["apps", "remove", "cli_cmd"])
    assert code == 0
    code, out = run(monkeypatch, capsys, ["apps", "show", "cli_cmd"])
    assert code == 2 and "unknown app" in out
    # the secret never reached the database file in plaintext
    raw = (tmp_path / "lark-service.db").read_bytes()
    assert b"SUPERSECRET-1" not in raw and b"ROTATED-2" not in raw


def test_apps_secret_is_never_an_argument():
    from lark_service.entrypoints.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["apps", "add", "cli_x", "--app-secret", "s"])


@pytest.mark.anyio
async def test_open_pool_reads_the_database_url_from_the_environment(
    tmp_path, monkeypatch, fake, base_url
):
    from lark_service.adapters.postgres import SqlAppStore, generate_key, upgrade_async
    from lark_service.domain import AppConfig
    from lark_service.entrypoints.embed import open_pool

    url = f"sqlite+aiosqlite:///{tmp_path / 'env.db'}"
    await upgrade_async(url)
    monkeypatch.setenv("LARK_SERVICE_DATABASE_URL", url)
    monkeypatch.setenv("LARK_SERVICE_SECRET_KEY", generate_key())
    async with open_pool(
        apps=[AppConfig(app_id="cli_env_db", app_secret="s", domain=base_url)]
    ) as pool:
        assert isinstance(pool.app_store, SqlAppStore)
        assert [a.app_id for a in await pool.app_store.list_apps()] == ["cli_env_db"]
