"""`lark-service demo` and the CLI's top level."""

from __future__ import annotations

from pathlib import Path

import pytest

from lark_service.entrypoints.cli import build_parser, main


def test_cli_requires_a_command() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([])


def test_cli_reports_typed_errors_with_exit_code_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LARK_SERVICE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LARK_SERVICE_DATABASE_URL", raising=False)
    assert main(["apps", "show", "cli_absent"]) == 2
    assert "UnknownAppError" in capsys.readouterr().err
