"""The command line's parsing, help and exit codes (no database needed)."""

from __future__ import annotations

import argparse
import re

import pytest

from lark_service.entrypoints.cli import build_parser, main
from lark_service.entrypoints.cli_options import ExitCode
from lark_service.testing.fake_lark.__main__ import main as fake_main


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


@pytest.mark.parametrize(
    "argv",
    [
        ["apps", "--database-url", "sqlite+aiosqlite:///a.db", "list"],
        ["apps", "list", "--database-url", "sqlite+aiosqlite:///a.db"],
        ["db", "--database-url", "sqlite+aiosqlite:///a.db", "upgrade"],
        ["db", "upgrade", "--database-url", "sqlite+aiosqlite:///a.db"],
        ["db", "downgrade", "base", "--yes", "--database-url", "sqlite+aiosqlite:///a.db"],
        ["secret-key", "rotate", "--database-url", "sqlite+aiosqlite:///a.db"],
        ["apps", "show", "cli_x", "--database-url", "sqlite+aiosqlite:///a.db"],
    ],
)
def test_database_url_works_before_and_after_the_sub_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.database_url == "sqlite+aiosqlite:///a.db"


def test_an_option_given_twice_keeps_the_later_one() -> None:
    argv = ["apps", "--table-prefix", "a_", "list", "--table-prefix", "b_"]
    assert build_parser().parse_args(argv).table_prefix == "b_"
    assert not hasattr(build_parser().parse_args(["apps", "list"]), "database_url")


def test_every_command_has_help_and_the_exit_codes_are_documented(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for line in ("0    success", "1    Lark, the network", "2    usage or configuration"):
        assert line in text
    for command in ("demo", "fake-lark", "db", "secret-key", "apps"):
        assert command in text
    apps = _subparser(build_parser(), "apps")
    names = set(next(a for a in apps._actions if isinstance(a, argparse._SubParsersAction)).choices)
    assert {"add", "update", "set-default", "import", "show", "list", "remove"} <= names


def test_fake_lark_help_documents_every_option_of_the_fake(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        fake_main(["--help"])
    fake_options = set(re.findall(r"--[a-z][a-z-]+", capsys.readouterr().out)) - {"--help"}
    parser = _subparser(build_parser(), "fake-lark")
    documented = {
        option: action.help
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--")
    }
    assert fake_options <= set(documented)
    assert all(documented[o] for o in fake_options)


@pytest.mark.parametrize(
    ("url", "advice"),
    [
        (
            "postgresql://lark:hunter2-pw@db.internal/lark",
            "postgresql+asyncpg://lark:***@db.internal",
        ),
        ("sqlite:///tmp/x.db", "sqlite+aiosqlite:///tmp/x.db"),
        ("mysql://db/x", "unsupported database"),
    ],
)
def test_an_unusable_database_url_exits_2_and_says_what_to_write(
    url: str, advice: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apps", "list", "--database-url", url]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert advice in err and "--database-url" in err
    assert "hunter2" not in err and "Traceback" not in err


def test_bad_settings_exit_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LARK_SERVICE_METRICS_PORT", "many")
    assert main(["secret-key", "generate"]) == ExitCode.USAGE
    assert "LARK_SERVICE_METRICS_PORT" in capsys.readouterr().err


def test_secret_key_generate_prints_a_fresh_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["secret-key", "generate"]) == ExitCode.OK
    first = capsys.readouterr().out.strip()
    assert main(["secret-key", "generate"]) == ExitCode.OK
    assert len(first) == 44 and first != capsys.readouterr().out.strip()
