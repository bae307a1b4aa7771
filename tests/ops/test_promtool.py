"""promtool accepts the Prometheus config and the rules, and every alert's unit test passes."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.ops.promql import PROMETHEUS_DIR

PROMTOOL = shutil.which("promtool")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        PROMTOOL is None, reason="promtool missing: apt-get install -y prometheus (.ci/run does)"
    ),
]


def promtool(*args: str) -> str:
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_check_config() -> None:
    out = promtool("check", "config", "prometheus.yml")
    assert "SUCCESS: prometheus.yml is valid" in out
    assert "SUCCESS: 1 rule files found" in out


def test_check_rules() -> None:
    assert "SUCCESS: 9 rules found" in promtool("check", "rules", "alerts.yml")


def test_rule_unit_tests_pass() -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


def test_rule_unit_tests_would_catch_a_broken_threshold(tmp_path: object) -> None:
    """The unit tests are not vacuous: raising a threshold out of reach makes them fail."""
    from pathlib import Path

    work = Path(str(tmp_path))
    rules = (PROMETHEUS_DIR / "alerts.yml").read_text()
    (work / "alerts.yml").write_text(rules.replace("> 0.05", "> 0.99"))
    shutil.copy(PROMETHEUS_DIR / "alerts_test.yml", work / "alerts_test.yml")
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts_test.yml"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "LarkApiErrorRateHigh" in done.stdout + done.stderr
