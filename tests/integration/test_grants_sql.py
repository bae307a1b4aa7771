"""Grants on the SQL stores: tokens encrypted at rest, sessions kept, one refresh for two pools."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from lark_service.adapters.memory import InMemoryMetrics
from lark_service.adapters.postgres import SqlDatabase, generate_key, sql_credential_stores
from lark_service.adapters.postgres.grant_sessions import SqlGrantSessionStore
from lark_service.application import CredentialPool
from lark_service.application.clients.messaging import MessagingClient
from lark_service.application.usecases.grants import GrantService
from lark_service.domain.grants import GrantSession, GrantSessionStatus
from lark_service.testing import fake_pool
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark.auth import approve
from tests.conftest import make_apps
from tests.unit.grants_support import APP, REDIRECT, SECRET, USER, oauth_requests, redirect_params
from tests.unit.test_pool import FakeClock

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


class Replica:
    def __init__(
        self, fake: FakeLark, db: SqlDatabase, pool: CredentialPool, grants: GrantService
    ) -> None:
        self.fake, self.db, self.pool, self.grants = fake, db, pool, grants


@pytest.fixture
async def replicas(
    open_store: object, database_url: str, secret_key: str
) -> AsyncIterator[list[Replica]]:
    """Two service replicas (own engine, pool and cache) on one migrated database."""
    fake = FakeLark()
    apps = make_apps(fake, 1)
    async with AsyncExitStack() as stack:
        found = []
        for _ in range(2):
            db = await SqlDatabase.open(database_url, secret_key=secret_key)
            stack.push_async_callback(db.aclose)
            pool = await stack.enter_async_context(
                fake_pool(
                    fake,
                    apps=apps,
                    default_app_id=APP,
                    stores=sql_credential_stores(db),
                    clock=FakeClock(fake),
                    metrics=InMemoryMetrics(),
                )
            )
            grants = GrantService(
                pool,
                sessions=SqlGrantSessionStore(db),
                messaging=MessagingClient(pool),
                secret=SECRET,
                redirect_uri=REDIRECT,
            )
            found.append(Replica(fake, db, pool, grants))
        yield found


async def test_grant_encrypted_at_rest_and_refreshed_once_by_two_replicas(
    replicas: list[Replica], database_url: str
) -> None:
    first, second = replicas
    fake = first.fake
    # the link comes from one replica, the callback lands on the other
    link, session = await first.grants.begin(APP, USER)
    code, state = redirect_params(approve(fake, link.url, USER))
    await second.grants.complete(code, state)
    ended = await first.grants.sessions.load_session(session.session_id)
    assert ended is not None and ended.status is GrantSessionStatus.COMPLETED

    stored = await first.pool.grant_store.load_user_token(APP, USER)
    assert stored is not None and stored.access_token.startswith("u-")
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM lark_user_tokens"))).fetchall()
    await engine.dispose()
    assert len(rows) == 1
    assert stored.access_token not in repr(rows) and stored.refresh_token not in repr(rows)

    later = await first.pool.grant_store.expiring_user_grants(fake.now() + 31 * 86400)
    assert [(g.app_id, g.user_id) for g in later] == [(APP, USER)]
    assert await first.pool.grant_store.expiring_user_grants(fake.now() + 86400) == []

    fake.advance(7200)
    tokens = await asyncio.gather(
        *(r.grants.access_token(APP, USER) for r in replicas for _ in range(5))
    )
    assert len(set(tokens)) == 1
    assert len(oauth_requests(fake, "refresh_token")) == 1


async def test_sql_session_store(database_url: str, open_store: object) -> None:
    db = await SqlDatabase.open(database_url, secret_key=generate_key())
    try:
        store = SqlGrantSessionStore(db)

        def session(sid: str, status: GrantSessionStatus, expires_at: float) -> GrantSession:
            return GrantSession(
                session_id=sid,
                app_id=APP,
                user_id=USER,
                status=status,
                created_at=expires_at - 600,
                expires_at=expires_at,
            )

        await store.save_session(session("a", GrantSessionStatus.PENDING, 1000))
        await store.save_session(session("b", GrantSessionStatus.PENDING, 2000))
        await store.save_session(session("c", GrantSessionStatus.EXPIRED, 500))
        pending = await store.pending_sessions(app_id=APP, user_id=USER)
        assert [s.session_id for s in pending] == ["a", "b"]
        assert await store.pending_sessions(app_id="other") == []
        done = session("a", GrantSessionStatus.COMPLETED, 1000)
        await store.save_session(done)
        assert await store.load_session("a") == done
        assert await store.delete_sessions_before(1500) == 2  # a and c; b is pending
        assert await store.load_session("b") is not None
        assert await store.load_session("a") is None
    finally:
        await db.aclose()
