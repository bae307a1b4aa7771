"""The in-memory stores by concern, and the single default app through the manager."""

from __future__ import annotations

import pytest

from lark_service.adapters.memory import MemoryState, in_memory_stores
from lark_service.domain.apps import AppConfig
from lark_service.domain.tokens import AccessToken, TokenKey, TokenKind, UserToken
from lark_service.entrypoints.embed import open_pool
from lark_service.entrypoints.settings import Settings
from tests.grant_store_support import GRANTED, authorized, check_granted_at

pytestmark = pytest.mark.anyio


def _app(app_id: str, *, is_default: bool = False) -> AppConfig:
    return AppConfig(app_id=app_id, app_secret=f"s-{app_id}", is_default=is_default)


async def test_one_state_behind_five_stores_and_delete_app_cascades() -> None:
    state = MemoryState()
    stores = in_memory_stores(state)
    key = TokenKey(app_id="cli_a", kind=TokenKind.TENANT)
    await stores.apps.save_app(_app("cli_a"))
    await stores.tokens.save_token(key, AccessToken(kind=TokenKind.TENANT, value="t", expires_at=9))
    await stores.app_tickets.save_app_ticket("cli_a", "ticket", expires_at=9)
    grant = UserToken(app_id="cli_a", user_id="ou_1", access_token="u", expires_at=9)
    await stores.user_grants.save_user_token(grant)
    assert await stores.user_grants.load_user_token("cli_a", "ou_1") == grant
    assert await stores.app_tickets.load_app_ticket("cli_a") == "ticket"
    assert await stores.apps.delete_app("cli_a") is True
    assert state.apps == {} and state.tokens == {} and state.app_tickets == {}
    assert state.user_tokens == {}
    assert await stores.apps.delete_app("cli_a") is False


async def test_a_refresh_keeps_when_the_user_granted_and_a_new_grant_has_its_own_time() -> None:
    await check_granted_at(in_memory_stores().user_grants)
    grant = authorized("ou_1", GRANTED)
    assert f"granted_at={GRANTED}" in repr(grant)
    assert grant.access_token not in repr(grant) and grant.refresh_token not in repr(grant)


async def test_processed_events_dedup_and_prune() -> None:
    events = in_memory_stores().processed_events
    assert await events.remember_event("ev1", expires_at=100.0) is True
    assert await events.remember_event("ev1", expires_at=200.0) is False
    assert await events.remember_event("ev2", expires_at=300.0) is True
    assert await events.prune_events(before=250.0) == 1
    assert await events.remember_event("ev1", expires_at=400.0) is True


async def test_saving_a_default_app_clears_the_old_default_in_the_store() -> None:
    apps = in_memory_stores().apps
    await apps.save_app(_app("cli_a", is_default=True))
    await apps.save_app(_app("cli_b", is_default=True))
    await apps.save_app(_app("cli_c"))
    assert [(a.app_id, a.is_default) for a in await apps.list_apps()] == [
        ("cli_a", False),
        ("cli_b", True),
        ("cli_c", False),
    ]


async def test_adding_a_default_app_leaves_one_default_and_resolution_follows() -> None:
    stores = in_memory_stores()
    async with open_pool(
        apps=[_app("cli_a", is_default=True)], stores=stores, settings=Settings()
    ) as pool:
        assert pool.resolve().app_id == "cli_a"
        await pool.apps.add(_app("cli_b", is_default=True))
        assert [a.app_id for a in pool.apps.list() if a.is_default] == ["cli_b"]
        assert pool.resolve().app_id == "cli_b"
        await pool.apps.set_default("cli_a")
        assert [a.app_id for a in pool.apps.list() if a.is_default] == ["cli_a"]
        assert pool.resolve().app_id == "cli_a"
    stored = {a.app_id: a.is_default for a in await stores.apps.list_apps()}
    assert stored == {"cli_a": True, "cli_b": False}


async def test_a_configured_default_replaces_a_stored_one_at_start() -> None:
    stores = in_memory_stores()
    await stores.apps.save_app(_app("cli_stored", is_default=True))
    async with open_pool(
        apps=[_app("cli_new", is_default=True)], stores=stores, settings=Settings()
    ) as pool:
        assert pool.resolve().app_id == "cli_new"
        assert [a.app_id for a in pool.apps.list() if a.is_default] == ["cli_new"]
    stored = {a.app_id: a.is_default for a in await stores.apps.list_apps()}
    assert stored == {"cli_stored": False, "cli_new": True}
