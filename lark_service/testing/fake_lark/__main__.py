"""Serve the fake Lark standalone: ``python -m lark_service.testing.fake_lark --port 8089``.

``--app APP_ID:SECRET[:marketplace][:NAME]`` (repeatable) replaces the two demo apps
``cli_demo_alerts`` / ``cli_demo_hr``. The clock follows real time here (``realtime=True``);
move it further with ``POST /_fake/advance``. See ``control.py`` for the ``/_fake/`` API.
"""

from __future__ import annotations

import argparse
import socket
import sys

import uvicorn

from lark_service.testing.fake_lark.runner import KEEP_ALIVE, http_impl, tcp_listener
from lark_service.testing.fake_lark.server import FakeLark

DEMO_APPS = (
    ("cli_demo_alerts", "demo-secret-alerts", "self_built", "Demo Alerts Bot"),
    ("cli_demo_hr", "demo-secret-hr", "self_built", "Demo HR Bot"),
)


def parse_app(spec: str) -> tuple[str, str, str, str]:
    parts = spec.split(":")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise argparse.ArgumentTypeError(f"expected APP_ID:SECRET[:TYPE][:NAME], got {spec!r}")
    app_type = parts[2] if len(parts) > 2 and parts[2] else "self_built"
    if app_type not in ("self_built", "marketplace"):
        raise argparse.ArgumentTypeError(f"app type must be self_built or marketplace: {spec!r}")
    return parts[0], parts[1], app_type, ":".join(parts[3:])


def build(apps: list[tuple[str, str, str, str]] | None = None) -> FakeLark:
    fake = FakeLark(realtime=True)
    for app_id, secret, app_type, name in apps or DEMO_APPS:
        fake.add_app(app_id, secret, app_type=app_type, name=name)
    return fake


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lark_service.testing.fake_lark", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--app", action="append", type=parse_app, default=None, metavar="SPEC")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    fake = build(args.app)
    apps = ", ".join(fake.apps)
    print(f"fake Lark on http://{args.host}:{args.port} apps: {apps}", file=sys.stderr)
    sock = tcp_listener(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.bind((args.host, args.port))
    config = uvicorn.Config(
        fake.app,
        loop="asyncio",
        interface="asgi3",
        http=http_impl(),
        log_level=args.log_level,
        access_log=False,
        lifespan="off",
        timeout_keep_alive=KEEP_ALIVE,  # longer than the client's: see `runner.KEEP_ALIVE`
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
