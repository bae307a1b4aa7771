"""Shapes shared by every area: one page of a Lark list endpoint."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from lark_service.domain.errors import ConfigError

T = TypeVar("T")


def check_page_size(page_size: int, maximum: int) -> int:
    """``page_size`` if an int within 1..maximum (Lark's cap for the endpoint), else
    `ConfigError`."""
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise ConfigError(f"page_size must be an int, not {page_size!r}")
    if not 1 <= page_size <= maximum:
        raise ConfigError(f"page_size must be between 1 and {maximum}, not {page_size}")
    return page_size


class Page(msgspec.Struct, Generic[T], kw_only=True):
    """One page of a Lark list call.

    ``page_token`` is the token to pass for the next page (``None`` when there is
    none); ``has_more`` is Lark's own flag. Lark sometimes sends a token with
    ``has_more=false``; callers must trust ``has_more``.
    """

    items: list[T] = []
    page_token: str | None = None
    has_more: bool = False
