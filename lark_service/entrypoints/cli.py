"""The ``lark-service`` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from lark_service.domain.errors import AppResolutionError, ConfigError, LarkServiceError
from lark_service.entrypoints import cli_apps, cli_db, cli_service
from lark_service.entrypoints.bootstrap import Core
from lark_service.entrypoints.cli_options import EXIT_CODES_HELP, ExitCode
from lark_service.entrypoints.settings import load_settings

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]

_FAKE_APP_HELP = (
    "an app the fake accepts, as APP_ID:SECRET[:TYPE][:NAME] with TYPE self_built "
    "(default) or marketplace; repeat for more apps (default: the demo apps "
    "cli_demo_alerts and cli_demo_hr)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lark-service",
        description="Run many Lark (Feishu) apps from one place.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="TOML settings file (default: $LARK_SERVICE_CONFIG)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="watch the pool work against a built-in fake Lark server",
        description="Run two demo apps against an in-process fake Lark server.",
    )
    demo.add_argument(
        "--calls", type=int, default=1000, help="concurrent calls per app (default: %(default)s)"
    )
    demo.set_defaults(func=_run_demo)

    fake = sub.add_parser(
        "fake-lark",
        help="serve the fake Lark Open API (for tests and demos)",
        description="Serve the fake Lark Open API over HTTP until interrupted. Its clock "
        "follows real time; the /_fake/ control API seeds data and moves the clock.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fake.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    fake.add_argument(
        "--port", type=int, default=8089, help="port to listen on (default: %(default)s)"
    )
    fake.add_argument("--app", action="append", default=[], metavar="SPEC", help=_FAKE_APP_HELP)
    fake.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="the HTTP server's log level (default: %(default)s)",
    )
    fake.set_defaults(func=_run_fake)

    cli_db.add_parsers(sub)
    cli_apps.add_parsers(sub)
    cli_service.add_parsers(sub)
    return parser


async def _run_demo(args: argparse.Namespace) -> int:
    from lark_service.entrypoints.demo import run_demo

    return await run_demo(calls=args.calls)


async def _run_fake(args: argparse.Namespace) -> int:
    from lark_service.testing.fake_lark.__main__ import main as fake_main

    argv = ["--host", args.host, "--port", str(args.port), "--log-level", args.log_level]
    for spec in args.app:
        argv += ["--app", spec]
    return await asyncio.to_thread(fake_main, argv)


def _error(exc: BaseException) -> None:
    print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lark-service`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(config_file=args.config)
    except ConfigError as exc:
        _error(exc)
        return ExitCode.USAGE
    level = "DEBUG" if args.verbose else settings.log_level
    core = Core(settings=settings.replace(log_level=level))
    core.logging.init()
    handler: Handler = args.func
    try:
        # serve and worker pick their loop (uvloop when installed): ``--loop``
        with asyncio.Runner(loop_factory=getattr(args, "loop_factory", None)) as runner:
            return runner.run(handler(args))
    except (ConfigError, AppResolutionError) as exc:
        _error(exc)
        return ExitCode.USAGE
    except LarkServiceError as exc:
        _error(exc)
        return ExitCode.FAILED
    except KeyboardInterrupt:  # pragma: no cover
        return ExitCode.INTERRUPTED
    finally:
        core.shutdown_resources()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
