"""The OAuth round trip of `GrantService` against the fake Lark server."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlsplit

import pytest

from lark_service.application.clients.tables import WorkspaceTableClient
from lark_service.application.usecases.grant_state import code_challenge
from lark_service.domain.errors import (
    ConfigError,
    UserAuthorizationRequired,
    UserNotAuthorizedError,
)
from lark_service.testing.fake_lark import apaas as fa
from lark_service.testing.fake_lark.auth import OAUTH_TOKEN, approve
from tests.unit.grants_support import (
    APP,
    REDIRECT,
    USER,
    Grants,
    grants_fixture,
    oauth_requests,
    redirect_params,
)

__all__ = ["grants_fixture"]

pytestmark = pytest.mark.anyio

WS = "ws_demo"


async def test_round_trip_authorize_call_refresh_rotate_revoke(grants: Grants) -> None:
    fake, pool = grants.fake, grants.pool
    fa.add_table(fake, WS, "people", {"name": "text"}, rows=[{"name": "Ann"}])
    link, session = await grants.service.begin(APP, USER)
    query = dict(parse_qsl(urlsplit(link.url).query))
    assert link.url.startswith("https://accounts.feishu.cn/open-apis/authen/v1/authorize?")
    assert query["client_id"] == APP and query["redirect_uri"] == REDIRECT
    assert "offline_access" in query["scope"].split()
    assert query["code_challenge_method"] == "S256"
    assert session.status == "pending"

    code, state = redirect_params(approve(fake, link.url, USER))
    status = await grants.service.complete(code, state)
    assert status.authorized and status.user_id == USER and status.app_id == APP
    (exchange,) = oauth_requests(fake, "authorization_code")
    body = exchange.json()
    assert code_challenge(body["code_verifier"]) == query["code_challenge"]
    assert body["redirect_uri"] == REDIRECT
    done = await grants.sessions.load_session(session.session_id)
    assert done is not None and done.status == "completed"

    tables = WorkspaceTableClient(pool)
    assert [t.name for t in (await tables.list_tables(WS, user_id=USER)).items] == ["people"]
    api = [r for r in fake.requests if r.path.startswith("/open-apis/apaas/")]
    assert api and all(r.token_info and r.token_info.user_id == USER for r in api)

    first = await pool.grant_store.load_user_token(APP, USER)
    assert first is not None
    fake.advance(7200)  # the access token has expired: the next call refreshes
    await tables.list_tables(WS, user_id=USER)
    second = await pool.grant_store.load_user_token(APP, USER)
    assert second is not None and second.refresh_token != first.refresh_token
    assert len(oauth_requests(fake, "refresh_token")) == 1
    # rotation is real: the spent refresh token is refused by Lark
    with pytest.raises(Exception, match="used"):
        await pool.issuer.refresh_user_access_token(
            pool.resolve(APP), user_id=USER, refresh_token=first.refresh_token
        )

    await grants.service.revoke(APP, USER)
    with pytest.raises(UserAuthorizationRequired) as caught:
        await tables.list_tables(WS, user_id=USER)
    assert caught.value.user_id == USER and caught.value.app_id == APP
    assert not (await grants.service.status(APP, USER)).authorized
    assert (f"{APP}.user_grant.revoked") in [t for t, _ in grants.bus.published]


async def test_granted_at_survives_refreshes_and_a_new_authorization_sets_it_anew(
    grants: Grants,
) -> None:
    fake, service, store = grants.fake, grants.service, grants.pool.grant_store
    link, _ = await service.begin(APP, USER)
    code, state = redirect_params(approve(fake, link.url, USER))
    first = fake.now()
    assert (await service.complete(code, state)).granted_at == first
    for hours in (2, 4):  # the access token expired: each call refreshes and rotates
        fake.advance(7200)
        await service.access_token(APP, USER)
        assert len(oauth_requests(fake, "refresh_token")) == hours // 2
        assert (await service.status(APP, USER)).granted_at == first
    await service.revoke(APP, USER)
    assert (await service.status(APP, USER)).granted_at is None
    fake.advance(3600)
    await grants.authorize()
    assert (await service.status(APP, USER)).granted_at == first + 4 * 3600 + 3600
    # the pool's own OAuth exchange (no GrantService) records it too, on the pool's clock
    fake.add_auth_code(APP, "ou_bob", "code-b")
    kept = await grants.pool.authorize_user(APP, "ou_bob", "code-b")
    assert kept.granted_at == fake.now() and kept == await store.load_user_token(APP, "ou_bob")


async def test_ten_concurrent_calls_with_an_expired_token_refresh_once(grants: Grants) -> None:
    await grants.authorize()
    grants.fake.advance(7200)
    tokens = await asyncio.gather(*(grants.service.access_token(APP, USER) for _ in range(10)))
    assert len(set(tokens)) == 1
    assert len(oauth_requests(grants.fake, "refresh_token")) == 1


async def test_refused_refresh_is_authorization_required_once_and_never_retried(
    grants: Grants,
) -> None:
    await grants.authorize()
    grants.fake.tokens.invalidate(APP)  # Lark revokes every token and refresh token
    grants.fake.advance(7200)
    with pytest.raises(UserAuthorizationRequired) as caught:
        await grants.service.access_token(APP, USER)
    assert caught.value.reason == "refused" and caught.value.user_id == USER
    before = len(grants.fake.requests)
    for _ in range(3):
        with pytest.raises(UserAuthorizationRequired):
            await grants.service.access_token(APP, USER)
    assert len(grants.fake.requests) == before  # no retry loop against Lark


async def test_expired_refresh_token_needs_authorization(grants: Grants) -> None:
    await grants.authorize()
    grants.fake.advance(2592000 + 1)
    with pytest.raises(UserAuthorizationRequired) as caught:
        await grants.service.access_token(APP, USER)
    assert caught.value.reason == "expired"
    assert oauth_requests(grants.fake, "refresh_token") == []


async def test_tampered_foreign_or_expired_state_is_refused_before_lark(grants: Grants) -> None:
    link, session = await grants.service.begin(APP, USER)
    code, state = redirect_params(approve(grants.fake, link.url, USER))
    body, _, mac = state.partition(".")
    other = grants.service.authorization_url(APP, "ou_mallory")
    _, foreign_state = redirect_params(approve(grants.fake, other.url, "ou_mallory"))
    forged = foreign_state.partition(".")[0] + "." + mac
    for bad in (forged, body, "x.y", ""):
        with pytest.raises(ConfigError, match="state"):
            await grants.service.complete(code, bad)
    assert oauth_requests(grants.fake, "authorization_code") == []
    grants.fake.advance(601)
    with pytest.raises(ConfigError, match="expired"):
        await grants.service.complete(code, state)
    ended = await grants.sessions.load_session(session.session_id)
    assert ended is not None and ended.status == "expired"
    assert oauth_requests(grants.fake, "authorization_code") == []


async def test_a_session_completes_once(grants: Grants) -> None:
    link, _ = await grants.service.begin(APP, USER)
    code, state = redirect_params(approve(grants.fake, link.url, USER))
    await grants.service.complete(code, state)
    with pytest.raises(ConfigError, match="already completed"):
        await grants.service.complete(code, state)


async def test_the_fake_checks_the_pkce_verifier(grants: Grants) -> None:
    link = grants.service.authorization_url(APP, USER)
    code, _ = redirect_params(approve(grants.fake, link.url, USER))
    with pytest.raises(UserNotAuthorizedError):
        await grants.pool.authorize_user(APP, USER, code, REDIRECT, code_verifier="x" * 43)
    (refused,) = [r for r in grants.fake.requests if r.path == OAUTH_TOKEN]
    assert refused.json()["code_verifier"] == "x" * 43


async def test_bad_input_is_a_config_error_before_any_call(grants: Grants) -> None:
    with pytest.raises(ConfigError, match="user_id"):
        grants.service.authorization_url(APP, "")
    with pytest.raises(ConfigError, match="redirect_uri"):
        grants.service.authorization_url(APP, USER, "javascript:alert(1)")
    with pytest.raises(ConfigError, match="code"):
        await grants.service.complete("", "a.b")
    with pytest.raises(ConfigError, match="secret"):
        type(grants.service)(
            grants.pool, sessions=grants.sessions, messaging=grants.service.messaging, secret="k"
        )
    assert grants.fake.requests == []


async def test_a_link_approved_by_another_user_stores_nothing(grants: Grants) -> None:
    link, session = await grants.service.begin(APP, USER)
    code, state = redirect_params(approve(grants.fake, link.url, "ou_mallory"))
    with pytest.raises(UserNotAuthorizedError, match="another user"):
        await grants.service.complete(code, state)
    assert await grants.pool.grant_store.load_user_token(APP, USER) is None
    assert await grants.pool.grant_store.load_user_token(APP, "ou_mallory") is None
    failed = await grants.sessions.load_session(session.session_id)
    assert failed is not None and failed.status == "failed"
