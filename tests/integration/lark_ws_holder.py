"""A replica holding one app's long connection, for the two-process lease test.

    python -m tests.integration.lark_ws_holder BASE_URL APP_ID TTL RENEW
    env: LARK_WS_TEST_DATABASE_URL, LARK_WS_TEST_SECRET_KEY, LARK_WS_TEST_APP_SECRET

Prints ``holding`` once it holds the lease and its socket is open, then one line per push
(``event <event_id>``); runs until killed.
"""

from __future__ import annotations

import asyncio
import os
import sys

from lark_service.adapters.lark_ws import LeasedConnection, LongConnection, LongConnectionOptions
from lark_service.adapters.postgres import SqlDatabase
from lark_service.adapters.postgres.leases import SqlLeaseStore
from lark_service.domain.events import LarkEvent


async def main(base_url: str, app_id: str, ttl: float, renew: float) -> None:
    db = await SqlDatabase.open(
        os.environ["LARK_WS_TEST_DATABASE_URL"], secret_key=os.environ["LARK_WS_TEST_SECRET_KEY"]
    )

    async def deliver(app: str, event: LarkEvent) -> dict[str, object]:
        print("event", event.event_id, flush=True)
        return {"msg": "success"}

    def factory() -> LongConnection:
        return LongConnection(
            app_id=app_id,
            app_secret=os.environ["LARK_WS_TEST_APP_SECRET"],
            base_url=base_url,
            deliver=deliver,
            options=LongConnectionOptions(min_backoff=0.05, protocol_ping_interval=None),
        )

    leased = LeasedConnection(
        app_id=app_id, factory=factory, leases=SqlLeaseStore(db), ttl=ttl, renew_every=renew
    )
    task = asyncio.create_task(leased.run())
    while leased.connection is None or not leased.connection.connected.is_set():
        await asyncio.sleep(0.01)
    print("holding", flush=True)
    await task


if __name__ == "__main__":
    url, app, ttl_text, renew_text = sys.argv[1:5]
    asyncio.run(main(url, app, float(ttl_text), float(renew_text)))
