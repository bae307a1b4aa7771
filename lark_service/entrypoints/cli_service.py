"""``lark-service serve | worker | send | keys ... | jobs ...``: the service's commands.

Every command starts from the composition root (`bootstrap.application`) with the settings
(environment, ``--config`` file, options). A new API key is printed once, on standard output,
and never again: only its digest is stored. ``serve`` and ``worker`` run on uvloop when it is
installed (``pip install 'lark-service[speed]'``; ``--loop asyncio`` opts out).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from dependency_injector import providers

from lark_service.adapters.memory.clock import SystemClock
from lark_service.application.clients.messaging import MessagingClient
from lark_service.application.pool import CredentialPool
from lark_service.application.usecases.keys import ApiKeyService
from lark_service.domain.api_keys import SCOPES
from lark_service.domain.apps import AppConfig
from lark_service.domain.errors import ConfigError
from lark_service.domain.ports.metrics import Metrics
from lark_service.domain.ports.send_queue import SendQueue
from lark_service.entrypoints.bootstrap import Application, application
from lark_service.entrypoints.cli_options import EXIT_CODES_HELP, settings_from, store_options
from lark_service.entrypoints.gc_tuning import server_gc
from lark_service.entrypoints.http.services import ReadinessCheck, Services
from lark_service.entrypoints.http.wiring import open_services
from lark_service.entrypoints.settings import Settings

log = logging.getLogger("lark_service.cli")

if TYPE_CHECKING:
    from lark_service.testing.fake_lark import RunningServer

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

# How long `serve` waits for uvicorn to listen before it gives up.
_STARTUP_DEADLINE = 60.0

# --to-ID options of `send`, by Lark's receive_id_type.
_RECEIVERS = ("chat_id", "open_id", "user_id", "union_id", "email")


def loop_factory(choice: str) -> LoopFactory | None:
    """The event loop for ``--loop``: ``auto`` is uvloop when installed, else asyncio's."""
    if choice not in ("auto", "uvloop", "asyncio"):
        raise argparse.ArgumentTypeError("expected auto, uvloop or asyncio")
    if choice == "asyncio":
        return None
    if importlib.util.find_spec("uvloop") is None:
        if choice == "uvloop":
            raise argparse.ArgumentTypeError(
                "uvloop is not installed: pip install 'lark-service[speed]'"
            )
        return None
    import uvloop

    factory: LoopFactory = uvloop.new_event_loop
    return factory


def _add_loop_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loop",
        dest="loop_factory",
        type=loop_factory,
        default="auto",
        metavar="{auto,uvloop,asyncio}",
        help="event loop (default: auto, uvloop when installed)",
    )


def add_parsers(subparsers: Any) -> None:
    """Add the ``serve``, ``worker``, ``send``, ``keys`` and ``jobs`` commands."""
    options = store_options()
    fmt = argparse.RawDescriptionHelpFormatter

    serve = subparsers.add_parser(
        "serve",
        parents=[options],
        help="run the HTTP API (docs at /docs)",
        description="Run the HTTP API. Without LARK_SERVICE_AMQP_URL, queued sends are "
        "handled in this process; with it, they go to RabbitMQ for `lark-service worker`. "
        "Apps come from the store, LARK_SERVICE_APPS_FILE and LARK_APPS__<ALIAS>__* "
        "variables. --demo runs everything in memory against a bundled fake Lark server "
        "with two demo apps and prints an admin API key: try every route at /docs.",
        epilog=EXIT_CODES_HELP,
        formatter_class=fmt,
    )
    serve.add_argument("--host", default=None, help="default: $LARK_SERVICE_HTTP_HOST, 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: $LARK_SERVICE_HTTP_PORT")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="in-memory stores, a bundled fake Lark server, two demo apps and a demo key",
    )
    _add_loop_option(serve)
    serve.set_defaults(func=_serve)

    worker = subparsers.add_parser(
        "worker",
        parents=[options],
        help="send the queued jobs of RabbitMQ's lark.send (needs LARK_SERVICE_AMQP_URL)",
        description="Consume lark.send and send each job with its id as Lark's uuid. "
        "SIGTERM stops consuming, finishes the jobs in flight and exits 0.",
        epilog=EXIT_CODES_HELP,
        formatter_class=fmt,
    )
    worker.add_argument("--prefetch", type=int, default=16, help="jobs in flight at once")
    _add_loop_option(worker)
    worker.set_defaults(func=_worker)

    send = subparsers.add_parser(
        "send",
        parents=[options],
        help="send a text message now and print its message id",
        description="Send TEXT through the pool (apps from the store, "
        "LARK_SERVICE_APPS_FILE and LARK_APPS__* variables) and print the message id.",
        epilog=EXIT_CODES_HELP,
        formatter_class=fmt,
    )
    send.add_argument("--app-id", default=None, help="the app to send as (default: the policy)")
    to = send.add_mutually_exclusive_group(required=True)
    for kind in _RECEIVERS:
        to.add_argument(f"--{kind.replace('_', '-')}", dest=kind, metavar="ID")
    send.add_argument("--uuid", default=None, help="Lark's dedup key: resending it is one message")
    send.add_argument("text", help="the message text")
    send.set_defaults(func=_send)

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
        "jobs", parents=[options], help="the dead-letter queue of queued sends (RabbitMQ)"
    )
    jsub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="COMMAND")
    dead = jsub.add_parser(
        "dead",
        parents=[options],
        help="list or replay the dead-lettered jobs of lark.send.dead",
        epilog=EXIT_CODES_HELP,
        formatter_class=fmt,
    )
    dsub = dead.add_subparsers(dest="dead_command", required=True, metavar="COMMAND")
    dead_list = dsub.add_parser(
        "list", parents=[options], help="job id, app, attempts and last error of each dead job"
    )
    dead_list.add_argument("--limit", type=int, default=100, help="at most this many (1-10000)")
    dead_list.set_defaults(func=_dead_list)
    replay = dsub.add_parser(
        "replay", parents=[options], help="queue dead jobs again with a fresh attempt count"
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("job_id", nargs="?", default=None, help="the dead job to replay")
    which.add_argument("--all", action="store_true", help="replay every dead job")
    replay.set_defaults(func=_dead_replay)


# -- opening what a command needs ------------------------------------------------------------


@asynccontextmanager
async def _app(
    args: argparse.Namespace, *, service_name: str | None = None
) -> AsyncIterator[tuple[Settings, Application]]:
    settings = settings_from(args).replace(service_name=service_name)
    async with application(settings, embedded_default=True) as app:
        yield settings, app


async def _pool(settings: Settings, app: Application) -> CredentialPool:
    """The pool with the stored, file and environment apps; ``base_url`` redirects them all."""
    pool: CredentialPool = await app.services.pool()
    if settings.apps_file:
        await pool.apps.load_toml(settings.apps_file)
    # the entry point hands the environment over: LARK_APPS__<ALIAS>__<FIELD> groups
    await pool.apps.load_env(os.environ)
    if settings.base_url is not None:
        for found in pool.apps.list():
            # in memory only: the stored app keeps its real domain
            pool.apps.register(msgspec.structs.replace(found, domain=settings.base_url))
    return pool


@asynccontextmanager
async def _keys(args: argparse.Namespace) -> AsyncIterator[ApiKeyService]:
    async with _app(args) as (_, app):
        yield ApiKeyService(await app.gateways.api_keys(), clock=SystemClock(), cache_ttl=0)


@asynccontextmanager
async def _services(
    args: argparse.Namespace,
    *,
    service_name: str | None = None,
    long_connections: bool = False,
    upkeep: bool = False,
) -> AsyncIterator[tuple[Settings, Services]]:
    """The pool with every configured app, and the use cases over it; ``/metrics`` served
    (when metrics are enabled) for as long as they run. ``long_connections``: the apps in
    ``websocket`` event mode also receive their events over Lark's long connection (one
    connection per app across replicas, by a lease in the store). ``upkeep``: the periodic
    jobs of `entrypoints.upkeep` run meanwhile (each in one replica at a time)."""
    async with _app(args, service_name=service_name) as (settings, app):
        pool = await _pool(settings, app)
        app.core.metrics_endpoint()  # starts the scrape endpoint (a resource: closed at exit)
        queue = await app.gateways.send_queue()
        readiness: list[tuple[str, ReadinessCheck]] = []
        if queue is not None:

            async def broker_ready() -> str | None:
                # the AMQP adapter tells whether its robust connection is up right now
                up = bool(getattr(queue, "connected", True))
                return None if up else "RabbitMQ is not connected"

            readiness.append(("broker", broker_ready))
        async with (
            open_services(
                pool,
                jobs=await app.gateways.jobs(),
                api_keys=await app.gateways.api_keys(),
                queue=queue,
                readiness=readiness,
                admin_key=settings.admin_key,
                max_attempts=settings.send_max_attempts,
                retry_delay=settings.send_retry_delays[0],
                bus=await app.gateways.event_bus(),
                processed_events=(await app.gateways.stores()).processed_events,
                grant_sessions=await app.gateways.grant_sessions(),
                grant_secret=settings.secret_key,
                dedup_ttl=settings.event_dedup_retention,
            ) as services,
            contextlib.AsyncExitStack() as stack,
        ):
            if long_connections:
                from lark_service.entrypoints.long_connection import open_long_connections

                await stack.enter_async_context(
                    open_long_connections(
                        pool.apps.list(),
                        services.events.accept,
                        await app.gateways.leases(),
                        base_url=settings.base_url,
                    )
                )
            if upkeep:
                await stack.enter_async_context(_upkeep(settings, app, services))
            yield settings, services


@asynccontextmanager
async def _upkeep(settings: Settings, app: Application, services: Services) -> AsyncIterator[None]:
    """The scheduled upkeep of `entrypoints.upkeep` meanwhile, unless the settings turn it
    off for this replica (``LARK_SERVICE_UPKEEP_ENABLED=false``)."""
    if not settings.upkeep_enabled:
        yield
        return
    # imported here: only `serve` schedules
    from lark_service.entrypoints.upkeep import open_upkeep, upkeep_intervals

    async with open_upkeep(
        services,
        await app.gateways.leases(),
        clock=services.pool.clock,
        intervals=upkeep_intervals(settings),
    ):
        yield


# -- serve -----------------------------------------------------------------------------------


async def _serve_http(
    services: Services, host: str, port: int, log_level: str, announce: Callable[[str], None]
) -> None:
    """Run uvicorn until it is stopped; ``announce`` gets the URL once it listens."""
    # imported here: the other commands need no web stack
    import uvicorn

    from lark_service.entrypoints.http import create_app

    config = uvicorn.Config(
        create_app(services),
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=log_level == "DEBUG",
    )
    server = uvicorn.Server(config)
    with _sigterm_is_a_clean_exit():
        serving = asyncio.create_task(server.serve())
        async with asyncio.timeout(_STARTUP_DEADLINE):
            # uvicorn sets a flag, not an event, once it listens
            while not server.started and not serving.done():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        if server.started:
            shown = f"[{host}]" if ":" in host else host
            announce(f"http://{shown}:{port}")
        with server_gc():
            await serving


@contextmanager
def _sigterm_is_a_clean_exit() -> Iterator[None]:
    """After its graceful shutdown uvicorn raises the signal it caught again, for the handler
    that was there before: make that one a no-op for SIGTERM, so ``serve`` exits 0 (as the
    worker does) instead of dying by the signal."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def _serve(args: argparse.Namespace) -> int:
    if args.demo:
        return await _serve_demo(args)
    async with _services(args, long_connections=True, upkeep=True) as (settings, services):
        host = args.host or settings.http_host
        port = args.port or settings.http_port

        def announce(url: str) -> None:
            print(f"lark-service on {url} (docs at {url}/docs)", flush=True)

        await _serve_http(services, host, port, settings.log_level, announce)
    return 0


DEMO_CHAT_ID = "oc_demo_chat"


def _start_fake() -> tuple[RunningServer, list[AppConfig]]:
    """The bundled fake Lark server on a free port, with the demo apps."""
    # imported here: only the demo runs the fake
    from lark_service.entrypoints.demo import DEMO_APPS
    from lark_service.testing.fake_lark import FakeLark, serve_in_thread

    fake = FakeLark(realtime=True)
    apps = []
    for app_id, name in DEMO_APPS:
        secret = f"demo-secret-{app_id}"
        fake.add_app(app_id, secret, name=name)
        apps.append(AppConfig(app_id=app_id, app_secret=secret, name=name))
    running = serve_in_thread(fake)
    return running, [msgspec.structs.replace(a, domain=running.base_url) for a in apps]


async def _serve_demo(args: argparse.Namespace) -> int:
    # Everything in memory: the demo leaves the configured store and broker alone.
    settings = msgspec.structs.replace(
        settings_from(args), database_url=None, amqp_url=None, base_url=None, apps_file=None
    )
    running, apps = await asyncio.to_thread(_start_fake)
    try:
        async with application(settings) as app:
            app.services.apps.override(providers.Object(apps))
            app.services.default_app_id.override(providers.Object(apps[0].app_id))
            pool = await app.services.pool()
            async with (
                open_services(
                    pool, jobs=await app.gateways.jobs(), api_keys=await app.gateways.api_keys()
                ) as services,
                _upkeep(settings, app, services),  # as in production, on the in-memory leases
            ):
                made = await services.keys.create(["admin"], name="demo")
                host = args.host or settings.http_host
                port = args.port or settings.http_port

                def announce(url: str) -> None:
                    app_ids = ", ".join(a.app_id for a in apps)
                    print(
                        f"lark-service demo on {url}\n"
                        f"  fake Lark server: {running.base_url} (apps {app_ids})\n"
                        f"  docs:             {url}/docs\n"
                        f"  demo admin key:   {made.key}\n"
                        f"try:\n"
                        f"  curl -H 'Authorization: Bearer {made.key}' "
                        f"-H 'Content-Type: application/json' {url}/v1/messages -d "
                        f'\'{{"receive_id": "{DEMO_CHAT_ID}", "msg_type": "text", '
                        f'"content": {{"text": "hello"}}}}\'',
                        flush=True,
                    )

                await _serve_http(services, host, port, settings.log_level, announce)
    finally:
        await asyncio.to_thread(running.stop)
    return 0


# -- worker and send -------------------------------------------------------------------------


async def _worker(args: argparse.Namespace) -> int:
    from lark_service.entrypoints.worker import run_worker

    if settings_from(args).amqp_url is None:
        raise ConfigError("worker: set LARK_SERVICE_AMQP_URL to the RabbitMQ to consume")
    async with _services(args, service_name="lark-service-worker") as (_, services):
        queue = services.sending.queue
        print("lark-service worker consuming lark.send", flush=True)
        depth = asyncio.create_task(_report_queue_depth(queue, services.pool.metrics))
        try:
            with server_gc():  # start-up is done: the collector set for a long-running process
                await run_worker(
                    queue,
                    services.sending.handle_job,
                    asyncio.Event(),
                    prefetch=args.prefetch,
                    on_dead=services.sending.mark_dead,
                    is_done=services.sending.is_done,
                )
        finally:
            depth.cancel()
    return 0


async def _report_queue_depth(queue: SendQueue, metrics: Metrics, every: float = 15.0) -> None:
    """``lark.send`` and ``lark.send.dead`` depths as gauges, once per scrape interval."""
    while True:
        try:
            async with asyncio.timeout(every):
                found = await queue.depth()
        except Exception as exc:  # a broker hiccup must not stop the worker
            log.warning("reading the queue depth failed: %s", type(exc).__name__)
        else:
            metrics.queue_depth(queue="lark.send", messages=found.ready)
            metrics.queue_depth(queue="lark.send.dead", messages=found.dead)
        await asyncio.sleep(every)


async def _send(args: argparse.Namespace) -> int:
    kind = next(k for k in _RECEIVERS if getattr(args, k) is not None)
    async with _app(args) as (settings, app):
        pool = await _pool(settings, app)
        message = await MessagingClient(pool).send_text(
            getattr(args, kind), args.text, receive_id_type=kind, app_id=args.app_id, uuid=args.uuid
        )
    print(message.message_id)
    return 0


# -- keys ------------------------------------------------------------------------------------


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


# -- the dead-letter queue -------------------------------------------------------------------


def _need_broker(args: argparse.Namespace, what: str) -> None:
    if settings_from(args).amqp_url is None:
        raise ConfigError(f"jobs dead {what}: set LARK_SERVICE_AMQP_URL (dead letters live there)")


async def _dead_list(args: argparse.Namespace) -> int:
    from lark_service.adapters.amqp import AmqpSendQueue

    _need_broker(args, "list")
    if not 1 <= args.limit <= 10_000:
        raise ConfigError("--limit must be between 1 and 10000")
    async with _app(args) as (_, app):
        queue = await app.gateways.send_queue()
        if not isinstance(queue, AmqpSendQueue):  # pragma: no cover - amqp_url is set
            raise ConfigError("jobs dead list: no RabbitMQ send queue configured")
        entries = await queue.dead_letter_entries(limit=args.limit)
    for entry in entries:
        job = entry.job
        print(f"{job.job_id}\t{job.app_id}\tattempts={job.attempt}\t{entry.last_error}")
    print(f"{len(entries)} dead job(s)", file=sys.stderr)
    return 0


async def _dead_replay(args: argparse.Namespace) -> int:
    _need_broker(args, "replay")
    async with _services(args) as (_, services):
        moved = await services.sending.replay_dead(None if args.all else args.job_id)
    print(f"replayed {moved} job(s)")
    if args.job_id is not None and moved == 0:
        print(f"error: no dead job {args.job_id!r}", file=sys.stderr)
        return 1
    return 0
