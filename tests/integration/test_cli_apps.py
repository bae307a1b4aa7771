"""``lark-service apps ...`` and ``db ...`` against real stores (SQLite, PostgreSQL) and the fake."""

from __future__ import annotations

import asyncio
import io
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from lark_service.adapters.postgres import SqlAppStore, generate_key, upgrade_async
from lark_service.adapters.postgres.migrations import head_revision
from lark_service.domain import AppConfig
from lark_service.entrypoints.cli import build_parser, main
from lark_service.entrypoints.cli_options import ExitCode
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark

from .conftest import PG_ADMIN_URL, _connect_admin

pytestmark = pytest.mark.integration


class Cli:
    """Runs ``lark-service`` in-process with a given stdin; returns (exit code, output)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self._monkeypatch = monkeypatch
        self._capsys = capsys

    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str]:
        self._monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(argv))
        out = self._capsys.readouterr()
        return code, out.out + out.err


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """The CLI on an embedded SQLite store in ``tmp_path`` and a clean environment."""
    for name in ("DATABASE_URL", "SECRET_KEY", "NEW_SECRET_KEY", "CONFIG", "TABLE_PREFIX"):
        monkeypatch.delenv(f"LARK_SERVICE_{name}", raising=False)
    monkeypatch.setenv("LARK_SERVICE_DATA_DIR", str(tmp_path))
    yield Cli(monkeypatch, capsys)


def test_apps_lifecycle(tmp_path: Path, cli: Cli, fake: FakeLark, base_url: str) -> None:
    fake.add_app("cli_cmd", "SUPERSECRET-1", name="Cmd")

    code, out = cli(
        "apps", "add", "cli_cmd", "--name", "Cmd", "--domain", base_url, stdin="SUPERSECRET-1\n"
    )
    assert code == 0 and "added cli_cmd" in out
    code, out = cli("apps", "list")
    assert code == 0 and "cli_cmd" in out and str(tmp_path) in out and "embedded default" in out
    assert "SUPERSECRET-1" not in out
    code, out = cli("apps", "show", "cli_cmd")
    assert code == 0 and "SUPERSECRET-1" not in out
    assert "app_id:             cli_cmd" in out and "app_secret:         (set, not shown)" in out
    assert "encrypt_key:        (not set)" in out and f"base_url:           {base_url}" in out
    assert "AppConfig(" not in out
    code, out = cli("apps", "validate", "cli_cmd")
    assert code == 0 and "credentials work" in out
    fake.add_app("cli_cmd", "ROTATED-2", name="Cmd")
    code, out = cli("apps", "validate", "cli_cmd")
    assert code == ExitCode.FAILED and "AuthError" in out and "SUPERSECRET-1" not in out
    code, out = cli("apps", "rotate-secret", "cli_cmd", stdin="ROTATED-2\n")
    assert code == 0
    code, out = cli("apps", "validate", "cli_cmd")
    assert code == 0
    code, out = cli("apps", "disable", "cli_cmd")
    code, out = cli("apps", "list")
    assert "disabled" in out
    code, out = cli("apps", "enable", "cli_cmd")
    code, out = cli("apps", "add", "cli_cmd", stdin="x\n")
    assert code == ExitCode.USAGE and "already exists" in out
    code, out = cli("apps", "add", "cli_empty", stdin="\n")
    assert code == ExitCode.USAGE and "no secret" in out
    code, out = cli("apps", "remove", "cli_cmd")
    assert code == 0
    code, out = cli("apps", "show", "cli_cmd")
    assert code == ExitCode.USAGE and "unknown app" in out
    # the secret never reached the database file in plaintext
    raw = (tmp_path / "lark-service.db").read_bytes()
    assert b"SUPERSECRET-1" not in raw and b"ROTATED-2" not in raw


def _defaults(listing: str) -> list[str]:
    return [line.split("\t")[0] for line in listing.splitlines() if line.endswith("default")]


def test_one_default_app_at_a_time(cli: Cli) -> None:
    assert cli("apps", "add", "cli_one", "--default", stdin="s1\n")[0] == 0
    code, out = cli("apps", "add", "cli_two", "--default", stdin="s2\n")
    assert code == 0 and "the default app" in out
    assert _defaults(cli("apps", "list")[1]) == ["cli_two"]
    code, out = cli("apps", "set-default", "cli_one")
    assert code == 0 and "default app is now cli_one" in out
    assert _defaults(cli("apps", "list")[1]) == ["cli_one"]
    assert "default:            no" in cli("apps", "show", "cli_two")[1]
    code, out = cli("apps", "set-default", "cli_absent")
    assert code == ExitCode.USAGE and "unknown app" in out


def test_apps_update(cli: Cli) -> None:
    cli("apps", "add", "cli_up", "--name", "Old", stdin="s\n")
    code, out = cli("apps", "update", "cli_up", "--name", "New", "--domain", "lark")
    assert code == 0 and "updated cli_up: domain, name" in out
    shown = cli("apps", "show", "cli_up")[1]
    assert "name:               New" in shown and "https://open.larksuite.com" in shown
    code, out = cli("apps", "update", "cli_up", "--domain", "not a domain")
    assert code == ExitCode.USAGE and "invalid domain" in out
    assert "https://open.larksuite.com" in cli("apps", "show", "cli_up")[1]  # unchanged
    code, out = cli("apps", "update", "cli_up")
    assert code == ExitCode.USAGE and "nothing to change" in out


def test_apps_import_from_toml(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "apps.toml"
    path.write_text(
        '[[apps]]\napp_id = "cli_imp1"\napp_secret = "IMPORTED-SECRET-1"\nname = "One"\n\n'
        '[[apps]]\napp_id = "cli_imp2"\napp_secret = "IMPORTED-SECRET-2"\nis_default = true\n'
        'domain = "lark"\n',
        encoding="utf-8",
    )
    code, out = cli("apps", "import", str(path))
    assert code == 0 and "imported 2 app(s)" in out and "cli_imp1, cli_imp2" in out
    listing = cli("apps", "list")[1]
    assert "cli_imp1\tOne\tfeishu" in listing and _defaults(listing) == ["cli_imp2"]
    assert "IMPORTED-SECRET" not in out + listing
    path.write_text('[[apps]]\napp_id = "cli_bad"\n', encoding="utf-8")
    code, out = cli("apps", "import", str(path))
    assert code == ExitCode.USAGE and "cannot load apps" in out
    code, out = cli("apps", "import", str(tmp_path / "absent.toml"))
    assert code == ExitCode.USAGE


def test_database_url_after_the_sub_command(tmp_path: Path, cli: Cli) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    code, out = cli("db", "upgrade", "--database-url", url)
    assert code == 0 and "migrated from no revision" in out
    assert cli("apps", "add", "cli_there", "--database-url", url, stdin="s\n")[0] == 0
    assert "cli_there" in cli("apps", "--database-url", url, "list")[1]
    assert "cli_there" in cli("apps", "list", "--database-url", url)[1]
    assert "cli_there" not in cli("apps", "list")[1]  # the embedded default is another store


def test_db_upgrade_reports_and_downgrade_asks(tmp_path: Path, cli: Cli) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'mig.db'}"
    code, out = cli("db", "upgrade", "--database-url", url)
    assert code == 0 and f"migrated from no revision (empty database) to {head_revision()}" in out
    code, out = cli("db", "upgrade", "--database-url", url)
    assert code == 0 and "nothing to migrate" in out
    code, out = cli("db", "downgrade", "base", "--database-url", url)
    assert code == ExitCode.USAGE and "--yes" in out and "drop every table" in out
    assert f"{head_revision()} (head)" in cli("db", "current", "--database-url", url)[1]
    code, out = cli("db", "downgrade", "base", "--yes", "--database-url", url)
    assert code == 0 and "to no revision" in out
    code, out = cli("db", "current", "--database-url", url)
    assert "no revision" in out and "lark-service db upgrade" in out


def test_unusable_database_urls_exit_2_without_a_traceback(cli: Cli) -> None:
    for url, advice in [
        (
            "postgresql://postgres:pw-123@127.0.0.1/x",
            "postgresql+asyncpg://postgres:***@127.0.0.1/x",
        ),
        ("sqlite:///tmp/x.db", "sqlite+aiosqlite:///tmp/x.db"),
    ]:
        for argv in (("apps", "list"), ("db", "upgrade"), ("db", "current")):
            code, out = cli(*argv, "--database-url", url)
            assert code == ExitCode.USAGE and advice in out
            assert "Traceback" not in out and "pw-123" not in out


@pytest.fixture
def missing_pg_database() -> str:
    """A PostgreSQL URL (with a password) naming a database that does not exist."""

    async def reachable() -> None:  # skips the test when PostgreSQL is not running
        await (await _connect_admin()).engine.dispose()

    asyncio.run(reachable())
    name = f"lark_absent_{uuid.uuid4().hex[:8]}"
    url = make_url(PG_ADMIN_URL).set(database=name, password="pw-456")
    return url.render_as_string(hide_password=False)


def test_unreachable_databases_exit_1_naming_the_host(
    cli: Cli, missing_pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LARK_SERVICE_SECRET_KEY", generate_key())
    host = make_url(missing_pg_database).host
    code, out = cli("apps", "list", "--database-url", missing_pg_database)
    assert code == ExitCode.FAILED and "does not exist" in out and f"on {host}" in out
    assert "pw-456" not in out and "Traceback" not in out
    code, out = cli("db", "upgrade", "--database-url", missing_pg_database)
    assert code == ExitCode.FAILED and "does not exist" in out and "pw-456" not in out
    refused = "postgresql+asyncpg://postgres:pw-789@127.0.0.1:1/lark"
    code, out = cli("apps", "list", "--database-url", refused)
    assert code == ExitCode.FAILED and "127.0.0.1:1" in out and "is PostgreSQL running" in out
    assert "pw-789" not in out and "Traceback" not in out


def test_apps_secret_is_never_an_argument() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["apps", "add", "cli_x", "--app-secret", "s"])


@pytest.mark.anyio
async def test_open_pool_reads_the_database_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base_url: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'env.db'}"
    await upgrade_async(url)
    monkeypatch.setenv("LARK_SERVICE_DATABASE_URL", url)
    monkeypatch.setenv("LARK_SERVICE_SECRET_KEY", generate_key())
    async with open_pool(
        apps=[AppConfig(app_id="cli_env_db", app_secret="s", domain=base_url)]
    ) as pool:
        assert isinstance(pool.app_store, SqlAppStore)
        assert [a.app_id for a in await pool.app_store.list_apps()] == ["cli_env_db"]
