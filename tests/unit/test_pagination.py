"""`iterate_pages`: walks has_more/page_token, yields in order, refuses loops."""

from __future__ import annotations

import pytest

from lark_service.application.pagination import iterate_pages
from lark_service.domain.errors import ServerError
from lark_service.domain.models.common import Page

pytestmark = pytest.mark.anyio


def pages_of(items: list[int], size: int) -> dict[str | None, Page[int]]:
    out: dict[str | None, Page[int]] = {}
    token: str | None = None
    for start in range(0, len(items), size):
        nxt = f"t{start + size}" if start + size < len(items) else None
        out[token] = Page(items=items[start : start + size], page_token=nxt, has_more=bool(nxt))
        token = nxt
    return out


async def test_yields_every_item_once_in_order() -> None:
    book = pages_of(list(range(1003)), 50)
    seen: list[str | None] = []

    async def fetch(token: str | None) -> Page[int]:
        seen.append(token)
        return book[token]

    got = [x async for x in iterate_pages(fetch)]
    assert got == list(range(1003))
    assert seen[0] is None and len(seen) == 21 and len(set(seen)) == 21


async def test_single_and_empty_pages() -> None:
    async def empty(token: str | None) -> Page[int]:
        return Page(items=[], has_more=False)

    assert [x async for x in iterate_pages(empty)] == []

    async def stale_token(token: str | None) -> Page[int]:
        # has_more=false wins over a token Lark left in the reply
        return Page(items=[1, 2], page_token="stale", has_more=False)

    assert [x async for x in iterate_pages(stale_token)] == [1, 2]


async def test_repeated_page_token_raises_server_error() -> None:
    calls = []

    async def loop(token: str | None) -> Page[int]:
        calls.append(token)
        nxt = "A" if token in (None, "B") else "B"
        return Page(items=[len(calls)], page_token=nxt, has_more=True)

    got = []
    with pytest.raises(ServerError, match="pagination loop"):
        async for x in iterate_pages(loop):
            got.append(x)
    assert calls == [None, "A", "B"]  # the third reply repeats "A"
    assert got == [1, 2, 3]


async def test_has_more_without_token_raises() -> None:
    async def broken(token: str | None) -> Page[int]:
        return Page(items=[1], page_token=None, has_more=True)

    with pytest.raises(ServerError, match="no page_token"):
        [x async for x in iterate_pages(broken)]


async def test_fetch_errors_propagate() -> None:
    async def failing(token: str | None) -> Page[int]:
        if token is None:
            return Page(items=[1], page_token="n", has_more=True)
        raise ServerError("boom")

    got = []
    with pytest.raises(ServerError, match="boom"):
        async for x in iterate_pages(failing):
            got.append(x)
    assert got == [1]
