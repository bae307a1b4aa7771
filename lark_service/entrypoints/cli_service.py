"""``lark-service serve | worker | keys ... | jobs ...``: the service's commands.

Every command starts from the composition root (`bootstrap.application`) with the settings
(environment, ``--config`` file, options). A new API key is printed once, on standard output,
and never again: only its digest is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from lark_service.adapters.memory.clock import SystemClock
from lark_service.application.usecases.keys import ApiKeyService
from lark_service.domain.api_keys import SCOPES
from lark_service.domain.errors import ConfigError
from lark_service.entrypoints.bootstrap import Application, application
from lark_service.entrypoints.cli_options import EXIT_CODES_HELP, settings_from, store_options
from lark_service.entrypoints.http.services import ReadinessCheck, Services
from lark_service.entrypoints.http.wiring import open_services
from lark_service.entrypoints.settings import Settings


def add_parsers(subparsers: Any) -> None:
    """Add the ``serve``, ``worker``, ``keys`` and ``jobs`` commands."""
    options = store_options()
    fmt = argparse.RawDescriptionHelpFormatter

    serve = subparsers.add_parser(
        "serve",
        parents=[options],
        help="run the HTTP API (docs at /docs)",
        description="Run the HTTP API. Without LARK_SERVICE_AMQP_URL, queued sends are "
        "handled in this process; with it, they go to RabbitMQ for `lark-service worker`.",
        epilog=EXIT_CODES_HELP,
        formatter_class=fmt,
    )
    serve.add_argument("--host", default=None, help="default: $LARK_SERVICE_HTTP_HOST, 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: $LARK_SERVICE_HTTP_PORT")
    serve.set_defaults(func=_serve)

    worker = subparsers.add_parser(
        "worker",
        parents=[options],
        help="send the queued jobs of RabbitMQ's lark.send (needs LARK_SERVICE_AMQP_URL)",
        epilog=EXIT_CODES_HELP,
        formatter_class=fmt,
    )
    worker.add_argument("--prefetch", type=int, default=16, help="jobs in flight at once")
    worker.set_defaults(func=_worker)

    keys = subparsers.add_parser(
        "keys", parents=[options], help="create, list and revoke API keys of the service"
    )
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    create = sub.add_parser(
        "create", parents=[options], help="create a key (printed once, stored hashed)"
    )
    create.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        required=True,
        help="send, read or admin (repeat for several; admin allows everything)",
    )
    create.add_argument("--name", default="", help="a label to recognise the key by")
    create.set_defaults(func=_create)
    listing = sub.add_parser("list", parents=[options], help="list keys (never the keys)")
    listing.set_defaults(func=_list)
    revoke = sub.add_parser("revoke", parents=[options], help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=_revoke)

    jobs = subparsers.add_parser(
        "jobs", parents=[options], help="inspect queued sends and replay dead letters"
    )
    jsub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="COMMAND")
    dead = jsub.add_parser("dead", parents=[options], help="list the dead-lettered jobs")
    dead.add_argument("--limit", type=int, default=100)
    dead.set_defaults(func=_dead)
    replay = jsub.add_parser("replay", parents=[options], help="send dead jobs again")
    replay.add_argument("job_id", nargs="?", default=None, help="one job (default: all)")
    replay.set_defaults(func=_replay)


@asynccontextmanager
async def _app(args: argparse.Namespace) -> AsyncIterator[tuple[Settings, Application]]:
    settings = settings_from(args)
    async with application(settings, embedded_default=True) as app:
        yield settings, app


@asynccontextmanager
async def _keys(args: argparse.Namespace) -> AsyncIterator[ApiKeyService]:
    async with _app(args) as (_, app):
        yield ApiKeyService(await app.gateways.api_keys(), clock=SystemClock(), cache_ttl=0)


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


@asynccontextmanager
async def _services(args: argparse.Namespace) -> AsyncIterator[tuple[Settings, Services]]:
    """The pool with the stored, file and environment apps, and the use cases over it."""
    async with _app(args) as (settings, app):
        pool = await app.services.pool()
        if settings.apps_file:
            await pool.apps.load_toml(settings.apps_file)
        queue = await app.gateways.send_queue()
        readiness: list[tuple[str, ReadinessCheck]] = []
        if queue is not None:

            async def broker_ready() -> str | None:
                # the AMQP adapter tells whether its robust connection is up right now
                up = bool(getattr(queue, "connected", True))
                return None if up else "RabbitMQ is not connected"

            readiness.append(("broker", broker_ready))
        async with open_services(
            pool,
            jobs=await app.gateways.jobs(),
            api_keys=await app.gateways.api_keys(),
            queue=queue,
            readiness=readiness,
            admin_key=settings.admin_key,
            grant_sessions=await app.gateways.grant_sessions(),
            grant_secret=settings.secret_key,
        ) as services:
            yield settings, services


async def _serve(args: argparse.Namespace) -> int:
    # imported here: the other commands need no web stack
    import uvicorn

    from lark_service.entrypoints.http import create_app

    async with _services(args) as (settings, services):
        host = args.host or settings.http_host
        port = args.port or settings.http_port
        config = uvicorn.Config(create_app(services), host=host, port=port, log_level="info")
        print(f"lark-service on http://{host}:{port} (docs at /docs)", flush=True)
        await uvicorn.Server(config).serve()
    return 0


async def _worker(args: argparse.Namespace) -> int:
    from lark_service.entrypoints.worker import run_worker

    if settings_from(args).amqp_url is None:
        raise ConfigError("worker: set LARK_SERVICE_AMQP_URL to the RabbitMQ to consume")
    async with _services(args) as (_, services):
        queue = services.sending.queue
        print("lark-service worker consuming lark.send", flush=True)
        await run_worker(
            queue, services.sending.handle_job, asyncio.Event(), prefetch=args.prefetch
        )
    return 0


async def _dead(args: argparse.Namespace) -> int:
    async with _services(args) as (_, services):
        found = await services.sending.queue.dead_letters(limit=args.limit)
    for job in found:
        print(f"{job.job_id}\t{job.app_id}\tattempts={job.attempt}\t{job.receive_id_type}")
    return 0


async def _replay(args: argparse.Namespace) -> int:
    async with _services(args) as (_, services):
        moved = await services.sending.replay_dead(args.job_id)
    print(f"replayed {moved} job(s)")
    return 0
