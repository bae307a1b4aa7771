"""A scratch PostgreSQL database reached through a TCP proxy the test controls.

Fixtures ``pg_url`` (a migrated scratch database, dropped afterwards) and ``proxy`` (a
`TcpProxy` in front of it); `via` turns the URL into one that goes through the proxy.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from lark_service.adapters.postgres import upgrade_async
from tests.integration.conftest import PG_ADMIN_URL, _connect_admin
from tests.integration.tcp_proxy import TcpProxy, tcp_proxy

__all__ = ["pg_url", "proxy", "via"]


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    admin = await _connect_admin()
    name = f"lark_proxied_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    await upgrade_async(url)
    try:
        yield url
    finally:
        await admin.terminate(name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.engine.dispose()


@pytest.fixture
async def proxy(pg_url: str) -> AsyncIterator[TcpProxy]:
    url = make_url(pg_url)
    async with tcp_proxy(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


def via(proxy: TcpProxy, pg_url: str) -> str:
    """``pg_url`` through ``proxy``."""
    url = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)
