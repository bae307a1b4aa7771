"""``lark-service apps ...``: administer the apps in the credential store.

Secrets are read from a prompt (or from standard input when it is not a terminal), never
from the command line, and never printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from lark_service.application.pool import CredentialPool
from lark_service.domain.apps import AppConfig, AppType
from lark_service.domain.errors import ConfigError
from lark_service.entrypoints.bootstrap import application
from lark_service.entrypoints.settings import load_settings


def add_parsers(subparsers: Any) -> None:
    """Add the ``apps`` command and its sub-commands."""
    apps = subparsers.add_parser("apps", help="add, list and change the Lark apps in the store")
    apps.add_argument("--database-url", default=None, help="default: $LARK_SERVICE_DATABASE_URL")
    sub = apps.add_subparsers(dest="apps_command", required=True)

    add = sub.add_parser("add", help="add an app (its secret is read from a prompt or stdin)")
    add.add_argument("app_id")
    add.add_argument("--name", default="")
    add.add_argument("--app-type", choices=[t.value for t in AppType], default="self_built")
    add.add_argument("--domain", default="feishu", help="feishu, lark or a base URL")
    add.add_argument("--default", action="store_true", help="make it the default app")
    add.set_defaults(func=_add)

    sub.add_parser("list", help="list the apps (never their secrets)").set_defaults(func=_list)
    for name, func, helptext in (
        ("show", _show, "show one app"),
        ("enable", _enable, "enable an app"),
        ("disable", _disable, "disable an app"),
        ("remove", _remove, "remove an app and its tokens"),
        ("rotate-secret", _rotate, "replace an app's secret (read from a prompt or stdin)"),
        ("validate", _validate, "fetch a token to prove the credentials work"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("app_id")
        p.set_defaults(func=func)


def read_secret(prompt: str) -> str:
    """A secret from the terminal (not echoed) or from the first line of stdin."""
    value = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline().strip()
    if not value:
        raise ConfigError("no secret given")
    return value


@asynccontextmanager
async def _pool(args: argparse.Namespace) -> AsyncIterator[CredentialPool]:
    settings = load_settings().replace(database_url=args.database_url)
    async with application(settings, embedded_default=True) as app:
        yield await app.services.pool()


def _describe(app: AppConfig) -> str:
    flags = [app.app_type.value if isinstance(app.app_type, AppType) else str(app.app_type)]
    flags.append("enabled" if app.enabled else "disabled")
    if app.is_default:
        flags.append("default")
    return f"{app.app_id}\t{app.name or '-'}\t{app.domain}\t{', '.join(flags)}"


async def _add(args: argparse.Namespace) -> int:
    secret = read_secret(f"app_secret for {args.app_id}: ")
    app = AppConfig(
        app_id=args.app_id,
        app_secret=secret,
        name=args.name,
        app_type=AppType(args.app_type),
        domain=args.domain,
        is_default=args.default,
    )
    app.base_url  # noqa: B018 - validates the domain before anything is stored
    async with _pool(args) as pool:
        await pool.apps.add(app)
    print(f"added {args.app_id}")
    return 0


async def _list(args: argparse.Namespace) -> int:
    settings = load_settings().replace(database_url=args.database_url)
    embedded = settings.database_url is None
    async with _pool(args) as pool:
        apps = sorted(pool.apps.list(), key=lambda a: a.app_id)
    where = (
        str(settings.resolved_data_dir() / "lark-service.db")
        if embedded
        else _safe(str(settings.database_url))
    )
    print(f"# store: {where}{' (embedded default)' if embedded else ''}")
    for app in apps:
        print(_describe(app))
    if not apps:
        print("# no apps yet: lark-service apps add <app_id>")
    return 0


async def _show(args: argparse.Namespace) -> int:
    async with _pool(args) as pool:
        app = pool.apps.get(args.app_id)
    print(repr(app))
    return 0


async def _enable(args: argparse.Namespace) -> int:
    async with _pool(args) as pool:
        await pool.apps.enable(args.app_id)
    return _done("enabled", args.app_id)


async def _disable(args: argparse.Namespace) -> int:
    async with _pool(args) as pool:
        await pool.apps.disable(args.app_id)
    return _done("disabled", args.app_id)


async def _remove(args: argparse.Namespace) -> int:
    async with _pool(args) as pool:
        await pool.apps.remove(args.app_id)
    return _done("removed", args.app_id)


def _done(what: str, app_id: str) -> int:
    print(f"{what} {app_id}")
    return 0


async def _rotate(args: argparse.Namespace) -> int:
    secret = read_secret(f"new app_secret for {args.app_id}: ")
    async with _pool(args) as pool:
        await pool.apps.rotate_secret(args.app_id, secret)
    print(f"rotated the secret of {args.app_id}")
    return 0


async def _validate(args: argparse.Namespace) -> int:
    async with _pool(args) as pool:
        await pool.apps.validate(args.app_id)
    print(f"{args.app_id}: credentials work")
    return 0


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
