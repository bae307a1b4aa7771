"""Unit tests open no sockets: connecting or binding one fails the test (tests that need a
socket live in tests/integration)."""

from __future__ import annotations

import socket
from typing import NoReturn

import pytest


def _refuse(*args: object, **kwargs: object) -> NoReturn:
    raise AssertionError("unit tests use the in-process fake: no sockets (see tests/integration)")


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, _refuse)
