"""`lark-service demo` and the CLI's top level."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from lark_service.entrypoints.cli import build_parser, main


def test_demo_shows_resolution_single_flight_and_recovery(capsys: pytest.CaptureFixture[str]):
    assert main(["demo", "--calls", "200"]) == 0
    out = capsys.readouterr().out
    assert "-> HR bot" in out and "-> Alerting bot (the pool's default)" in out
    assert "cli_demo_alerts: 1 token request(s)" in out
    assert "cli_demo_hr: 1 token request(s)" in out
    assert "after 1 token refresh" in out


def test_cli_requires_a_command():
    with pytest.raises(SystemExit):
        build_parser().parse_args([])


def test_cli_reports_typed_errors_with_exit_code_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LARK_SERVICE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LARK_SERVICE_DATABASE_URL", raising=False)
    assert main(["apps", "show", "cli_absent"]) == 2
    assert "UnknownAppError" in capsys.readouterr().err


def test_fake_lark_command_serves_the_fake():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lark_service.entrypoints.cli",
            "fake-lark",
            "--port",
            str(port),
            "--app",
            "cli_cmdline:sec",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                reply = httpx.post(
                    f"http://127.0.0.1:{port}/open-apis/auth/v3/tenant_access_token/internal",
                    json={"app_id": "cli_cmdline", "app_secret": "sec"},
                )
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("fake-lark did not start")
        assert reply.json()["tenant_access_token"].startswith("t-")
    finally:
        proc.terminate()
        proc.wait(10)
