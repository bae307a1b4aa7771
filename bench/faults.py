"""Fault-injection run: the pool and a client under Lark faults and a failing PostgreSQL.

Each round arms faults at the fake Lark server (5xx bursts, dropped connections, 429s,
slow replies, revoked tokens) and, when PostgreSQL is reachable on 127.0.0.1:5432, flips a
TCP proxy between the store and the server (drop packets, reset, block writes). Every
call has a budget; one that exceeds it counts as hung. After the faults, each send that
failed is retried once with the same ``uuid`` (Lark's dedup key: the documented safe
retry). Prints: faults injected, calls made, calls failed with a typed error, untyped
failures, calls hung, messages lost, messages duplicated.

Run: ``python bench/faults.py`` (``--rounds N``, ``--no-postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench._common import print_table
from lark_service.adapters.lark_http import RetryPolicy
from lark_service.adapters.postgres import (
    SqlDatabase,
    StoreDeadlines,
    generate_key,
    sql_credential_stores,
    upgrade_async,
)
from lark_service.application import MessagingClient
from lark_service.application.rate_limit import RateLimiter
from lark_service.domain import AppConfig, LarkServiceError
from lark_service.domain.ports.credentials import CredentialStores
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark, serve_in_thread
from tests.integration.tcp_proxy import Mode, TcpProxy, tcp_proxy

ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
APPS = 5
CALLS_PER_ROUND = 100
CALL_BUDGET = 20.0  # seconds; a call still running then is hung
LARK_FAULTS = ("5xx", "drop", "rate_limit", "latency", "token_invalid")
STORE_FAULTS: tuple[Mode, ...] = ("drop", "reset", "block")


@contextlib.asynccontextmanager
async def scratch_postgres() -> AsyncIterator[str | None]:
    """A migrated scratch database, or ``None`` if PostgreSQL is not reachable."""
    admin = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"lark_faults_bench_{uuid.uuid4().hex[:8]}"
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OSError:
        await admin.dispose()
        yield None
        return
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_async(url)
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.dispose()


class Tally:
    def __init__(self) -> None:
        self.faults: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.failed_sends: list[tuple[str, str, str]] = []  # (app_id, chat, uuid)
        self.sent: set[tuple[str, str]] = set()  # (app_id, uuid) the caller meant to send


async def one_send(
    client: MessagingClient, app_id: str, chat: str, text: str, tally: Tally
) -> None:
    send_uuid = uuid.uuid4().hex
    tally.sent.add((app_id, send_uuid))
    try:
        await asyncio.wait_for(
            client.send_text(chat, text, uuid=send_uuid, app_id=app_id), CALL_BUDGET
        )
    except TimeoutError:
        tally.outcomes["hung"] += 1
        tally.failed_sends.append((app_id, chat, send_uuid))
    except LarkServiceError as exc:
        tally.outcomes[f"typed:{type(exc).__name__}"] += 1
        tally.failed_sends.append((app_id, chat, send_uuid))
    except Exception as exc:
        tally.outcomes[f"untyped:{type(exc).__name__}"] += 1
        tally.failed_sends.append((app_id, chat, send_uuid))
    else:
        tally.outcomes["ok"] += 1


async def run(rounds: int, use_postgres: bool, seed: int) -> Tally:
    rng = random.Random(seed)  # nosec B311 - fault choice, not security
    tally = Tally()
    fake = FakeLark()
    fake.state["im_rate_scale"] = 0  # client-side shaping is not under test here
    apps = [AppConfig(app_id=f"cli_fault{n}", app_secret="s") for n in range(APPS)]
    for app in apps:
        fake.add_app(app.app_id, "s")
    retry = RetryPolicy(base_delay=0.05, max_delay=1.0)
    with serve_in_thread(fake) as server:
        async with contextlib.AsyncExitStack() as stack:
            proxy: TcpProxy | None = None
            stores: CredentialStores | None = None
            pg = await stack.enter_async_context(scratch_postgres()) if use_postgres else None
            if pg is not None:
                proxy = await stack.enter_async_context(tcp_proxy("127.0.0.1", 5432))
                url = make_url(pg).set(port=proxy.port).render_as_string(hide_password=False)
                db = await SqlDatabase.open(
                    url,
                    secret_key=generate_key(),
                    deadlines=StoreDeadlines(connect=1, statement=1, operation=2, lock=3),
                )
                stack.push_async_callback(db.aclose)
                stores = sql_credential_stores(db)
            pool = await stack.enter_async_context(
                open_pool(
                    apps=apps,
                    base_url=server.base_url,
                    stores=stores,
                    retry=retry,
                    limiter=RateLimiter({}),
                )
            )
            client = MessagingClient(pool)
            for n in range(rounds):
                fake.clear_faults()
                for _ in range(rng.randint(1, 3)):
                    kind = rng.choice(LARK_FAULTS)
                    prefix = rng.choice(("/open-apis/", "/open-apis/auth/", "/open-apis/im/"))
                    fake.inject_fault(
                        kind,
                        path_prefix=prefix,
                        count=rng.randint(1, 30),
                        latency=0.3,
                        retry_after=1,
                        status=rng.choice((500, 502, 503)),
                    )
                    tally.faults[f"lark {kind}"] += 1
                if rng.random() < 0.3:
                    fake.invalidate_tokens(rng.choice(apps).app_id)
                    tally.faults["lark tokens revoked"] += 1
                if proxy is not None:
                    mode: Mode = rng.choice(("pass", "pass", *STORE_FAULTS))
                    proxy.set_mode(mode)
                    if mode != "pass":
                        tally.faults[f"store {mode}"] += 1
                        for app in apps:  # make calls miss the cache and reach the store
                            pool.forget_tokens(app.app_id)
                await asyncio.gather(
                    *(
                        one_send(client, rng.choice(apps).app_id, f"oc_r{n}", f"m{i}", tally)
                        for i in range(CALLS_PER_ROUND)
                    )
                )
            if proxy is not None:
                proxy.set_mode("pass")
            fake.clear_faults()
            await asyncio.sleep(3)  # past the pool's token backoff after a few failures
            # The safe retry: each failed send again, with its uuid (Lark dedups on it).
            retried = list(tally.failed_sends)
            for app_id, chat, send_uuid in retried:
                with contextlib.suppress(LarkServiceError):
                    await client.send_text(chat, "again", uuid=send_uuid, app_id=app_id)
            delivered = Counter((m["app_id"], m["uuid"]) for m in fake.messages)
    tally.outcomes["lost"] = len(tally.sent - set(delivered))
    tally.outcomes["duplicated"] = sum(c - 1 for c in delivered.values() if c > 1)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    tally = asyncio.run(run(args.rounds, not args.no_postgres, args.seed))
    o = tally.outcomes
    typed = sum(v for k, v in o.items() if k.startswith("typed:"))
    untyped = sum(v for k, v in o.items() if k.startswith("untyped:"))
    calls = o["ok"] + typed + untyped + o["hung"]
    print_table(
        f"Fault injection: {args.rounds} rounds x {CALLS_PER_ROUND} sends over {APPS} apps",
        ["measure", "value"],
        [
            ["faults injected", f"{sum(tally.faults.values())} ({dict(tally.faults)})"],
            ["calls made", calls],
            ["calls succeeded", o["ok"]],
            [
                "calls failed with a typed error",
                f"{typed} ({ {k[6:]: v for k, v in o.items() if k.startswith('typed:')} })",
            ],
            ["calls failed untyped (must be 0)", untyped],
            ["calls hung (must be 0)", o["hung"]],
            ["messages lost after the uuid retry (must be 0)", o["lost"]],
            ["messages duplicated (must be 0)", o["duplicated"]],
        ],
    )
    if untyped or o["hung"] or o["lost"] or o["duplicated"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
