"""``apps add/update --with-encrypt-key --with-verification-token``: read from stdin, stored."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from lark_service.application import CredentialPool
from lark_service.entrypoints.bootstrap import application
from lark_service.entrypoints.cli import build_parser
from lark_service.entrypoints.settings import load_settings

from .test_cli_apps import Cli, cli  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


async def stored_keys(app_id: str) -> tuple[str | None, str | None]:
    async with application(load_settings(), embedded_default=True) as app:
        pool: CredentialPool = await app.services.pool()
        stored = pool.apps.get(app_id)
        return stored.encrypt_key, stored.verification_token


def test_event_keys_come_from_stdin(tmp_path: Path, cli: Cli, base_url: str) -> None:  # noqa: F811
    stdin = "APP-SECRET-1\nENC-KEY-2\nVERIFY-TOKEN-3\n"
    code, out = cli(
        "apps",
        "add",
        "cli_keys",
        "--domain",
        base_url,
        "--with-encrypt-key",
        "--with-verification-token",
        stdin=stdin,
    )
    assert code == 0, out
    code, out = cli("apps", "show", "cli_keys")
    assert "encrypt_key:        (set, not shown)" in out
    assert "verification_token: (set, not shown)" in out
    assert "ENC-KEY-2" not in out and "VERIFY-TOKEN-3" not in out

    assert anyio.run(stored_keys, "cli_keys") == ("ENC-KEY-2", "VERIFY-TOKEN-3")
    code, out = cli("apps", "update", "cli_keys", "--with-verification-token", stdin="NEW-4\n")
    assert code == 0, out
    assert anyio.run(stored_keys, "cli_keys") == ("ENC-KEY-2", "NEW-4")
    raw = (tmp_path / "lark-service.db").read_bytes()
    assert b"ENC-KEY-2" not in raw and b"NEW-4" not in raw  # sealed in the database


def test_event_keys_are_never_arguments() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["apps", "add", "cli_x", "--encrypt-key", "k"])
