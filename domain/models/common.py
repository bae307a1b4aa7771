"""Shapes shared by every area: one page of a Lark list endpoint."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")


class Page(msgspec.Struct, Generic[T], kw_only=True):
    """One page of a Lark list call.

    ``page_token`` is the token to pass for the next page (``None`` when there is
    none); ``has_more`` is Lark's own flag. Lark sometimes sends a token with
    ``has_more=false``; callers must trust ``has_more``.
    """

    items: list[T] = []
    page_token: str | None = None
    has_more: bool = False
