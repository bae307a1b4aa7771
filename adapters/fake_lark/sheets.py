"""Fake Lark endpoints: sheets (to be filled in)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.fake_lark.server import FakeLark


def register(fake: FakeLark) -> None:
    """Register this module's routes on fake."""
