"""The ``lark-service`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from lark_service.domain.errors import LarkServiceError
from lark_service.entrypoints import cli_apps, cli_db

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lark-service", description="Run many Lark (Feishu) apps from one place."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="watch the pool work against a built-in fake Lark server")
    demo.add_argument("--calls", type=int, default=1000, help="concurrent calls per app")
    demo.set_defaults(func=_run_demo)

    fake = sub.add_parser("fake-lark", help="serve the fake Lark Open API (for tests and demos)")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8089)
    fake.add_argument("--app", action="append", default=[], metavar="APP_ID:SECRET")
    fake.set_defaults(func=_run_fake)

    cli_db.add_parsers(sub)
    cli_apps.add_parsers(sub)
    return parser


async def _run_demo(args: argparse.Namespace) -> int:
    from lark_service.entrypoints.demo import run_demo

    return await run_demo(calls=args.calls)


async def _run_fake(args: argparse.Namespace) -> int:
    from lark_service.testing.fake_lark.__main__ import main as fake_main

    argv = ["--host", args.host, "--port", str(args.port)]
    for spec in args.app:
        argv += ["--app", spec]
    return await asyncio.to_thread(fake_main, argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lark-service`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.func
    try:
        return asyncio.run(handler(args))
    except LarkServiceError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
