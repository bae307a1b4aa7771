"""What every `UserGrantStore` does with ``granted_at``; run on the in-memory store (unit) and
the SQL store on PostgreSQL and SQLite (integration)."""

from __future__ import annotations

import msgspec

from lark_service.domain.ports.user_grants import UserGrantStore
from lark_service.domain.tokens import UserToken

APP = "cli_a"
GRANTED = 1_790_000_000.0


def authorized(user_id: str, granted_at: float | None, n: int = 1) -> UserToken:
    """The ``n``-th tokens of a grant (``granted_at=None``: what a refresh brings)."""
    return UserToken(
        app_id=APP,
        user_id=user_id,
        access_token=f"u-access-{n}",
        expires_at=GRANTED + 7200 * n,
        refresh_token=f"ur-refresh-{n}",
        refresh_expires_at=GRANTED + 30 * 86400,
        scope="offline_access",
        granted_at=granted_at,
    )


async def loaded(store: UserGrantStore, user_id: str) -> UserToken:
    token = await store.load_user_token(APP, user_id)
    assert token is not None
    return token


async def check_granted_at(store: UserGrantStore) -> None:
    """A refresh keeps when the user authorized the app; a new authorization (after a revoke,
    or over a grant still held) sets its own time; a time never given stays unknown."""
    await store.save_user_token(authorized("ou_1", GRANTED))
    assert await loaded(store, "ou_1") == authorized("ou_1", GRANTED)

    for n in (2, 3):  # refreshes: new tokens, no time of their own
        await store.save_user_token(authorized("ou_1", None, n))
        assert await loaded(store, "ou_1") == authorized("ou_1", GRANTED, n)

    await store.delete_user_token(APP, "ou_1")
    await store.save_user_token(authorized("ou_1", None, 4))  # a late refresh: not a grant
    assert (await loaded(store, "ou_1")).granted_at is None
    await store.delete_user_token(APP, "ou_1")
    await store.save_user_token(authorized("ou_1", GRANTED + 86400, 5))
    assert (await loaded(store, "ou_1")).granted_at == GRANTED + 86400
    await store.save_user_token(authorized("ou_1", GRANTED + 2 * 86400, 6))
    assert (await loaded(store, "ou_1")).granted_at == GRANTED + 2 * 86400

    # the time is the grant's, not the app's: another user's grant keeps its own
    await store.save_user_token(authorized("ou_2", GRANTED + 60))
    await store.save_user_token(authorized("ou_1", None, 7))
    assert (await loaded(store, "ou_2")).granted_at == GRANTED + 60
    assert await loaded(store, "ou_1") == msgspec.structs.replace(
        authorized("ou_1", None, 7), granted_at=GRANTED + 2 * 86400
    )
