"""Walking Lark's ``has_more``/``page_token`` pagination."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from lark_service.domain.errors import ServerError
from lark_service.domain.models.common import Page

T = TypeVar("T")


async def iterate_pages(
    fetch: Callable[[str | None], Awaitable[Page[T]]],
) -> AsyncIterator[T]:
    """Yield every item of every page, in order, starting with ``fetch(None)``.

    Stops when a page says ``has_more`` is false. A token seen before means the
    server is looping, and ``has_more`` without a token leaves no way to go on;
    both raise :class:`ServerError` rather than loop forever or silently drop
    the rest of the list.
    """
    seen: set[str] = set()
    token: str | None = None
    while True:
        page = await fetch(token)
        for item in page.items:
            yield item
        if not page.has_more:
            return
        if not page.page_token:
            raise ServerError("pagination: has_more is true but no page_token was returned")
        if page.page_token in seen:
            raise ServerError(
                f"pagination loop: page_token {page.page_token!r} was returned twice",
                details={"page_token": page.page_token},
            )
        seen.add(page.page_token)
        token = page.page_token
