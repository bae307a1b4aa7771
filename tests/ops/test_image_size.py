"""The image stays under its size budget, measured without a container engine.

The runtime dependencies (no dev extras) are installed into a fresh venv with the
Containerfile's own ``pip install`` flags and clean-up, and the venv's size plus the base
image's size must stay under the budget. The base: python:3.12-slim is ~41-45 MB compressed
on Docker Hub (hub.docker.com/_/python, tag 3.12-slim, linux/amd64) and ~125-150 MB
uncompressed (`docker images` shows 150 MB in https://oneuptime.com/blog/post/2026-02-08-how-to-
reduce-docker-image-size-for-python-applications/view); the larger figure is used.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.promql import REPO

MB = 1_000_000
SLIM_BASE_BYTES = 150 * MB  # python:3.12-slim, uncompressed, upper estimate (see above)
BUDGET_BYTES = 500 * MB  # CI's build job fails at 500 MB
GOAL_BYTES = 250 * MB

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def containerfile_pip_flags() -> list[str]:
    text = (REPO / "Containerfile").read_text()
    match = re.search(r"/opt/venv/bin/pip install (.*?) \.\s", text)
    assert match, "the build stage installs the project with /opt/venv/bin/pip install ... ."
    return match.group(1).split()


def tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def test_runtime_venv_plus_slim_base_is_under_budget(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    # what the Containerfile copies: pyproject.toml, README.md and the package
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copy(REPO / "README.md", source)
    shutil.copytree(REPO / "lark_service", source / "lark_service")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = venv / "bin" / "pip"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    flags = containerfile_pip_flags()
    assert "--no-cache-dir" in flags and "--only-binary=:all:" in flags
    # Neither pip's cache (outside the venv) nor bytecode (removed below, as the
    # Containerfile does) is measured: using the one and skipping the other changes nothing
    # measured and spares this test most of its minute
    quick = [flag for flag in flags if flag != "--no-cache-dir"] + ["--no-compile"]
    subprocess.run(
        [str(pip), "install", "-q", *quick, "."], cwd=source, env=env, check=True, timeout=540
    )
    python = venv / "bin" / "python"
    # no dev extra was installed, and the entry point imports without it
    listed = subprocess.run(
        [str(pip), "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    for dev_only in ("pytest", "mypy", "ruff", "lark-oapi", "bandit"):
        assert f"\n{dev_only}==" not in f"\n{listed}", dev_only
    subprocess.run(
        [str(python), "-c", "import lark_service.entrypoints.cli, lark_service.adapters.otel"],
        check=True,
        timeout=120,
    )
    # the Containerfile's clean-up
    subprocess.run([str(pip), "uninstall", "-q", "-y", "pip"], check=True, timeout=120)
    for cache in venv.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    venv_bytes = tree_bytes(venv)
    total = venv_bytes + SLIM_BASE_BYTES
    print(
        f"runtime venv {venv_bytes / MB:.0f} MB + slim base {SLIM_BASE_BYTES / MB:.0f} MB = {total / MB:.0f} MB"
    )
    # the requirement is the 500 MB budget; the 250 MB goal is reported, not enforced (the
    # service's dependencies - Litestar, aio-pika, redis - put it at about 260 MB)
    print(f"goal {GOAL_BYTES / MB:.0f} MB: {'met' if total < GOAL_BYTES else 'missed'}")
    assert total < BUDGET_BYTES, f"{total / MB:.0f} MB: over the 500 MB budget"
