"""`ApiKeyService.authenticate`: the found-key cache, its expiry, and one store lookup for the
requests in flight when an entry has expired."""

from __future__ import annotations

import asyncio

import pytest

from lark_service.adapters.memory.api_keys import InMemoryApiKeyStore
from lark_service.adapters.memory.clock import ManualClock
from lark_service.application.usecases.keys import ApiKeyService
from lark_service.domain.api_keys import ApiKey
from lark_service.domain.errors import StoreError

pytestmark = pytest.mark.anyio
TTL = 10.0


class CountingStore(InMemoryApiKeyStore):
    """The in-memory store, counting lookups; a lookup waits for ``gate`` before it reads and
    for ``hold`` after, when they are set."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0
        self.gate: asyncio.Event | None = None
        self.hold: asyncio.Event | None = None
        self.read = asyncio.Event()  # set once a lookup has read the store
        self.fail = False

    async def find_key(self, key_hash: str) -> ApiKey | None:
        self.lookups += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise StoreError("the store is down")
        found = await super().find_key(key_hash)
        self.read.set()
        if self.hold is not None:
            await self.hold.wait()
        return found


def service() -> tuple[ApiKeyService, CountingStore, ManualClock]:
    store, clock = CountingStore(), ManualClock()
    return ApiKeyService(store, clock=clock, cache_ttl=TTL), store, clock


async def test_a_found_key_is_cached_until_its_ttl() -> None:
    keys, store, clock = service()
    made = await keys.create(["send"])
    assert (await keys.authenticate(made.key)) is not None
    assert (await keys.authenticate(made.key)) is not None
    assert store.lookups == 1
    clock.advance(TTL + 1)
    assert (await keys.authenticate(made.key)) is not None
    assert store.lookups == 2


async def test_requests_in_flight_share_one_lookup() -> None:
    keys, store, _ = service()
    made = await keys.create(["send"])
    store.gate = asyncio.Event()
    waiting = [asyncio.ensure_future(keys.authenticate(made.key)) for _ in range(50)]
    await asyncio.sleep(0)
    store.gate.set()
    found = await asyncio.gather(*waiting)
    assert store.lookups == 1
    assert {k.key_id if k else None for k in found} == {made.key_id}


async def test_a_caller_giving_up_does_not_fail_the_others() -> None:
    keys, store, _ = service()
    made = await keys.create(["read"])
    store.gate = asyncio.Event()
    first = asyncio.ensure_future(keys.authenticate(made.key))
    second = asyncio.ensure_future(keys.authenticate(made.key))
    await asyncio.sleep(0)
    first.cancel()
    store.gate.set()
    assert (await second) is not None
    assert first.cancelled() and store.lookups == 1


async def test_a_failed_lookup_reaches_every_waiter_and_the_next_call_retries() -> None:
    keys, store, _ = service()
    made = await keys.create(["send"])
    store.gate, store.fail = asyncio.Event(), True
    waiting = [asyncio.ensure_future(keys.authenticate(made.key)) for _ in range(3)]
    await asyncio.sleep(0)
    store.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, StoreError) for r in results)
    store.fail = False
    assert (await keys.authenticate(made.key)) is not None
    assert store.lookups == 2


async def test_a_revocation_is_not_undone_by_a_lookup_begun_before_it() -> None:
    keys, store, _ = service()
    made = await keys.create(["send"])
    store.hold = asyncio.Event()
    before = asyncio.ensure_future(keys.authenticate(made.key))
    await store.read.wait()  # the lookup has read the key, not yet revoked
    await keys.revoke(made.key_id)
    store.hold.set()
    assert (await before) is not None  # it began before the revocation
    store.hold = None
    assert (await keys.authenticate(made.key)) is None
    assert store.lookups == 2
