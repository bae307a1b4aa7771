"""``lark-service keys ...`` (API keys of the HTTP service) and ``lark-service serve``.

A new key is printed once, on standard output, and never again: only its digest is stored.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from lark_service.adapters.memory.clock import SystemClock
from lark_service.adapters.postgres import upgrade_async
from lark_service.adapters.postgres.api_keys import SqlApiKeyStore
from lark_service.application.usecases.keys import ApiKeyService
from lark_service.domain.api_keys import SCOPES
from lark_service.entrypoints.stores import configured_database_url, open_sql_store

APPS_FILE_ENV = "LARK_SERVICE_APPS_FILE"


def add_parsers(subparsers: Any) -> None:
    """Add the ``keys`` and ``serve`` commands."""
    keys = subparsers.add_parser("keys", help="create, list and revoke API keys of the service")
    keys.add_argument("--database-url", default=None, help="default: $LARK_SERVICE_DATABASE_URL")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    create = sub.add_parser("create", help="create a key (printed once, stored hashed)")
    create.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        required=True,
        help="send, read or admin (repeat for several; admin allows everything)",
    )
    create.add_argument("--name", default="", help="a label to recognise the key by")
    create.set_defaults(func=_create)
    sub.add_parser("list", help="list keys (never the keys themselves)").set_defaults(func=_list)
    revoke = sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=_revoke)

    serve = subparsers.add_parser("serve", help="run the HTTP API (docs at /docs)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--database-url", default=None, help="default: $LARK_SERVICE_DATABASE_URL")
    serve.set_defaults(func=_serve)


@asynccontextmanager
async def _keys(args: argparse.Namespace) -> AsyncIterator[ApiKeyService]:
    url, embedded = configured_database_url(args.database_url)
    if embedded:
        await upgrade_async(url)
    store = SqlApiKeyStore.open(url)
    try:
        yield ApiKeyService(store, clock=SystemClock(), cache_ttl=0)
    finally:
        await store.aclose()


async def _create(args: argparse.Namespace) -> int:
    async with _keys(args) as keys:
        made = await keys.create(args.scope, name=args.name)
    print(made.key)
    print(
        f"key id {made.key_id}, scopes {','.join(made.scopes)}: store the key now, "
        "it is not shown again",
        file=sys.stderr,
    )
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with _keys(args) as keys:
        found = await keys.list()
    for key in found:
        created = datetime.fromtimestamp(key.created_at, UTC).isoformat(timespec="seconds")
        state = "revoked" if key.revoked else "active"
        print(f"{key.key_id}\t{','.join(key.scopes)}\t{key.name or '-'}\t{created}\t{state}")
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    async with _keys(args) as keys:
        await keys.revoke(args.key_id)
    print(f"revoked {args.key_id}")
    return 0


async def _serve(args: argparse.Namespace) -> int:
    # imported here: the key commands need neither the web stack nor the Lark transport
    import uvicorn

    from lark_service.entrypoints.embed import open_pool
    from lark_service.entrypoints.http import create_app
    from lark_service.entrypoints.http.wiring import open_services

    url, _ = configured_database_url(args.database_url)
    store = await open_sql_store(args.database_url)
    async with open_pool(store=store) as pool:
        if apps_file := os.environ.get(APPS_FILE_ENV):
            await pool.apps.load_toml(apps_file)
        await pool.apps.load_env(os.environ)
        async with open_services(pool, database_url=url) as services:
            config = uvicorn.Config(
                create_app(services), host=args.host, port=args.port, log_level="info"
            )
            print(f"lark-service on http://{args.host}:{args.port} (docs at /docs)", flush=True)
            await uvicorn.Server(config).serve()
    return 0
