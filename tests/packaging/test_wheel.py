"""The wheel, installed as a user would (issue 7): into a fresh venv, next to PyPI's
``entrypoints`` and a service with its own top-level ``domain`` and ``application`` packages.

Builds the wheel from a copy of the source tree, installs it, the ``entrypoints`` package and
``tests/packaging/embedder`` into a new venv, then runs there the README's embedding example
(against ``lark-service fake-lark`` started from that venv) and ``lark-service demo``.

The README's example is the first ```python block under ``## Embedding``. It may be a
snippet (top-level ``async with`` / ``await``; an undefined ``chat_id`` is provided) or a
whole script that calls ``asyncio.run``. It must point at the fake with
``base_url="http://127.0.0.1:8089"`` (the port is replaced) and spell its apps as
``AppConfig(app_id="...", app_secret="...")`` (they are registered at the fake).

pip's cache (``PIP_CACHE_DIR``, default ``~/.cache/pip``) is reused between runs; the
phases' timings are printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
EMBEDDER = Path(__file__).resolve().parent / "embedder"
README_FAKE_URL = "http://127.0.0.1:8089"
_APP = re.compile(r'app_id="([^"]+)",\s*app_secret="([^"]*)"')
_IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


class Timer:
    def __init__(self) -> None:
        self.start = self.last = time.monotonic()
        self.phases: list[str] = []

    def mark(self, phase: str) -> None:
        now = time.monotonic()
        self.phases.append(f"{phase} {now - self.last:.1f}s")
        self.last = now

    def report(self) -> str:
        total = time.monotonic() - self.start
        return "wheel test: " + ", ".join(self.phases) + f"; total {total:.1f}s"


def _run(
    args: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(  # every wait here has a deadline
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, args))} exited {done.returncode}\n"
        f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
    )
    return done


def _clean_env() -> dict[str, str]:
    """The environment without this test run's venv, so the new venv stands alone."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def embedding_example(readme: str) -> str:
    """The first ```python block under ``## Embedding``."""
    section = re.search(r"^## Embedding\s*$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert section, "README.md has no '## Embedding' section"
    block = re.search(r"^```python\s*\n(.*?)^```", section.group(1), re.M | re.S)
    assert block, "the '## Embedding' section has no ```python block"
    return block.group(1)


def embedding_script(example: str, base_url: str) -> str:
    """A runnable script: the embedder's own imports first, then the README's example."""
    assert README_FAKE_URL in example, f"the example must use base_url={README_FAKE_URL!r}"
    code = example.replace(README_FAKE_URL, base_url)
    prelude = textwrap.dedent(
        """\
        import asyncio

        from application import announce  # the embedding service's own packages
        from domain import OWNER, Deployment

        assert OWNER == "embedder-example", OWNER
        print(announce(Deployment("lark-service embedding")))
        """
    )
    if "asyncio.run(" in code:
        return prelude + "\n" + code
    chat = "" if re.search(r"^\s*chat_id\s*=", code, re.M) else 'chat_id = "oc_readme_example"\n'
    return (
        prelude
        + "\n\nasync def main() -> None:\n"
        + textwrap.indent(chat + code, "    ")
        + "\n\nasyncio.run(main())\n"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, proc: subprocess.Popen[str], deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"fake-lark exited early: {proc.communicate()}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"fake-lark did not listen on {port} within {deadline_s}s")


def _get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as reply:  # loopback only
        body: dict[str, object] = json.loads(reply.read())
    return body


def build_wheel(work: Path, env: dict[str, str]) -> Path:
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=_IGNORED)  # the build writes build/ and egg-info
    wheels = work / "wheels"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, source],
        cwd=work,
        env=env,
    )
    (wheel,) = wheels.glob("lark_service-*.whl")
    return wheel


def wheel_extras(wheel: Path) -> set[str]:
    """The extras the wheel's METADATA declares."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    return {line.split(":", 1)[1].strip() for line in lines if line.startswith("Provides-Extra:")}


def wheel_top_level_names(wheel: Path) -> tuple[set[str], str | None]:
    """Top-level names in the wheel's RECORD (dist-info excluded), and its top_level.txt."""
    with zipfile.ZipFile(wheel) as archive:
        (record,) = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
        paths = [line.split(",")[0] for line in archive.read(record).decode().splitlines()]
        top_level = [n for n in archive.namelist() if n.endswith(".dist-info/top_level.txt")]
        listed = archive.read(top_level[0]).decode().strip() if top_level else None
    names = {p.split("/")[0] for p in paths if p and ".dist-info/" not in p}
    return names, listed


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Timer]]:
    """A fresh venv holding the wheel, PyPI's ``entrypoints`` and the embedder."""
    timer = Timer()
    work = tmp_path_factory.mktemp("wheel")
    env = _clean_env()
    wheel = build_wheel(work, env)
    timer.mark("build")
    names, listed = wheel_top_level_names(wheel)
    assert names == {"lark_service"}, names
    assert listed in (None, "lark_service"), listed
    venv_dir = work / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    timer.mark("venv")
    embedder = work / "embedder"
    shutil.copytree(EMBEDDER, embedder, ignore=_IGNORED)
    python = venv_dir / "bin" / "python"
    # `demo` and `fake-lark` need the fake's server; if it moved to an extra, a user of
    # those commands installs that extra
    requirement = f"{wheel}[testing]" if "testing" in wheel_extras(wheel) else str(wheel)
    _run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--prefer-binary",
            requirement,
            "entrypoints",
            embedder,
        ],
        cwd=work,
        env=env,
    )
    timer.mark("install")
    _run([python, "-m", "pip", "check"], cwd=work, env=env)
    yield venv_dir, timer
    print("\n" + timer.report())


def test_installed_packages_keep_their_own_names(installed: tuple[Path, Timer]) -> None:
    venv_dir, _ = installed
    probe = textwrap.dedent(
        """\
        import application, domain, entrypoints, lark_service
        from domain import OWNER
        from lark_service import AppConfig, MessagingClient, open_pool
        assert OWNER == "embedder-example", OWNER
        assert application.announce(domain.Deployment("x")) == "embedder-example: x finished"
        assert "lark_service" not in domain.__file__
        transports = entrypoints.get_group_named("lark_service.transport")
        assert transports["default"].module_name.startswith("lark_service."), transports
        print(lark_service.__file__)
        """
    )
    env = _clean_env()
    done = _run([venv_dir / "bin" / "python", "-c", probe], cwd=venv_dir, env=env)
    assert str(venv_dir) in done.stdout  # the installed copy, not the source tree


def test_readme_embedding_example_runs_in_the_venv(installed: tuple[Path, Timer]) -> None:
    venv_dir, timer = installed
    example = embedding_example((ROOT / "README.md").read_text(encoding="utf-8"))
    apps = _APP.findall(example)
    assert apps, "the example must spell its apps as AppConfig(app_id=..., app_secret=...)"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    run_dir = venv_dir.parent / "run"
    run_dir.mkdir(exist_ok=True)
    script = run_dir / "embedding_example.py"
    script.write_text(embedding_script(example, base_url), encoding="utf-8")
    env = _clean_env()
    app_args = [arg for app_id, secret in apps for arg in ("--app", f"{app_id}:{secret}")]
    fake = subprocess.Popen(
        [str(venv_dir / "bin" / "lark-service"), "fake-lark", "--port", str(port), *app_args],
        cwd=run_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_listening(port, fake)
        done = _run([venv_dir / "bin" / "python", script], cwd=run_dir, env=env, timeout=120)
        messages = _get_json(f"{base_url}/_fake/messages")["data"]
    finally:
        fake.terminate()
        try:
            fake.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fake.kill()
            fake.wait(timeout=10)
    assert "embedder-example: lark-service embedding finished" in done.stdout
    assert isinstance(messages, dict)
    assert len(messages["items"]) == example.count(".send_text(") > 0
    timer.mark("readme example")


def test_demo_runs_in_the_venv(installed: tuple[Path, Timer]) -> None:
    venv_dir, timer = installed
    done = _run(
        [venv_dir / "bin" / "lark-service", "demo"], cwd=venv_dir, env=_clean_env(), timeout=300
    )
    assert "Done." in done.stdout and "1 token request(s) at Lark" in done.stdout
    timer.mark("demo")


def test_embedding_script_wraps_a_snippet_and_keeps_a_script() -> None:
    snippet = f'async with open_pool(base_url="{README_FAKE_URL}") as pool:\n    await f(chat_id)\n'
    wrapped = embedding_script(snippet, "http://127.0.0.1:1")
    compile(wrapped, "wrapped", "exec")
    assert "chat_id = " in wrapped and "http://127.0.0.1:1" in wrapped
    script = f'import asyncio\nURL = "{README_FAKE_URL}"\nasyncio.run(main())\n'
    assert embedding_script(script, "http://127.0.0.1:1").endswith(
        'URL = "http://127.0.0.1:1"\nasyncio.run(main())\n'
    )
