"""``lark-service apps add/update --event-mode`` on the embedded SQLite store."""

from __future__ import annotations

import pytest

from .test_cli_apps import Cli, cli  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


def test_add_and_update_set_the_event_mode(cli: Cli) -> None:  # noqa: F811
    code, out = cli("apps", "add", "cli_ws", "--event-mode", "websocket", stdin="S-1\n")
    assert code == 0, out
    code, out = cli("apps", "show", "cli_ws")
    assert code == 0 and "event_mode:" in out and "websocket" in out
    code, out = cli("apps", "add", "cli_hook", stdin="S-2\n")
    assert code == 0, out
    assert "webhook" in cli("apps", "show", "cli_hook")[1]

    code, out = cli("apps", "update", "cli_ws", "--event-mode", "webhook")
    assert code == 0 and "event_mode" in out
    show = cli("apps", "show", "cli_ws")[1]
    assert "websocket" not in show and "webhook" in show


def test_a_bad_event_mode_is_refused(cli: Cli) -> None:  # noqa: F811
    with pytest.raises(SystemExit) as exit_:
        cli("apps", "add", "cli_bad", "--event-mode", "pigeon", stdin="S-1\n")
    assert exit_.value.code == 2
    code, out = cli("apps", "update", "cli_bad", "--name", "x")
    assert code != 0 and "cli_bad" in out  # nothing was added
