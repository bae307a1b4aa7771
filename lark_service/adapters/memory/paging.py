"""Paging for the in-memory adapters: a page token is the offset of the next page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from lark_service.domain.errors import ConfigError
from lark_service.domain.models.common import Page

T = TypeVar("T")


def offset_page(
    items: Sequence[T], size: int, token: str | None
) -> tuple[list[T], str | None, bool]:
    """The items of one page, the next page's token (``None`` at the end), and has_more."""
    try:
        start = int(token) if token else 0
    except ValueError:
        raise ConfigError(f"page_token {token!r} did not come from this list") from None
    end = start + size
    more = end < len(items)
    return list(items[start:end]), str(end) if more else None, more


def page_of(items: Sequence[T], size: int, token: str | None) -> Page[T]:
    """One page of ``items`` as a `Page`."""
    chunk, next_token, more = offset_page(items, size, token)
    return Page(items=chunk, page_token=next_token, has_more=more)
