"""``lark-service apps ...``: administer the apps in the credential store.

Secrets (the app secret, and with ``--with-encrypt-key`` / ``--with-verification-token`` the
keys that authenticate Lark's pushes) are read from a prompt (or from standard input, one per
line in that order, when it is not a terminal) or from a TOML file, never from the command
line, and never printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from lark_service.application.pool import CredentialPool
from lark_service.domain.apps import AppConfig, AppType, EventMode, resolve_base_url
from lark_service.domain.errors import ConfigError
from lark_service.entrypoints.bootstrap import application
from lark_service.entrypoints.cli_options import (
    EXIT_CODES_HELP,
    ExitCode,
    settings_from,
    store_options,
)
from lark_service.entrypoints.settings import redact_url

__all__ = ["add_parsers", "describe_app", "read_secret"]

_IMPORT_HELP = """\
The file holds [[apps]] tables with the fields of AppConfig, for example:

  [[apps]]
  app_id = "cli_a1b2c3"
  app_secret = "..."          # keep this file private (chmod 600)
  name = "Alerting bot"
  domain = "feishu"           # or "lark", or a base URL
  app_type = "self_built"     # or "marketplace"
  is_default = true
  encrypt_key = "..."         # optional: Lark's pushes (events, card callbacks)
  verification_token = "..."  # optional

Apps that exist already are replaced."""


def add_parsers(subparsers: Any) -> None:
    """Add the ``apps`` command and its sub-commands."""
    options = store_options()
    apps = subparsers.add_parser(
        "apps",
        parents=[options],
        help="add, list and change the Lark apps in the store",
        description="Administer the Lark apps in the credential store.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = apps.add_subparsers(dest="apps_command", required=True, metavar="COMMAND")

    def command(name: str, func: Any, helptext: str, **kw: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, parents=[options], help=helptext, description=helptext, **kw
        )
        p.set_defaults(func=func)
        return p

    add = command("add", _add, "add an app (its secret is read from a prompt or stdin)")
    add.add_argument("app_id")
    add.add_argument("--name", default="", help="a name for people")
    add.add_argument(
        "--app-type", choices=[t.value for t in AppType], default="self_built", help="%(default)s"
    )
    add.add_argument("--domain", default="feishu", help="feishu (default), lark or a base URL")
    add.add_argument("--default", action="store_true", help="make it the (only) default app")
    add.add_argument(
        "--event-mode",
        choices=[m.value for m in EventMode],
        default=EventMode.WEBHOOK.value,
        help="how Lark delivers events: webhook (default) or websocket (the long connection)",
    )
    _event_key_options(add)

    update = command(
        "update",
        _update,
        "change an app's name, domain, type, event mode or event keys (read from stdin)",
    )
    update.add_argument("app_id")
    update.add_argument("--name", default=None, help="a name for people")
    update.add_argument("--app-type", choices=[t.value for t in AppType], default=None)
    update.add_argument("--domain", default=None, help="feishu, lark or a base URL")
    update.add_argument(
        "--event-mode",
        choices=[m.value for m in EventMode],
        default=None,
        help="webhook or websocket",
    )
    _event_key_options(update)

    command("list", _list, "list the apps (never their secrets)")
    for name, func, helptext in (
        ("show", _show, "show one app (never its secret)"),
        ("set-default", _set_default, "make an app the default (the only one)"),
        ("enable", _enable, "enable an app"),
        ("disable", _disable, "disable an app"),
        ("remove", _remove, "remove an app and its tokens"),
        ("rotate-secret", _rotate, "replace an app's secret (read from a prompt or stdin)"),
        ("validate", _validate, "fetch a token to prove the credentials work"),
    ):
        command(name, func, helptext).add_argument("app_id")
    imp = command(
        "import",
        _import,
        "add or replace the apps of a TOML file",
        epilog=_IMPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("file", metavar="FILE.toml")


def _event_key_options(parser: argparse.ArgumentParser) -> None:
    # flags, not values: the keys are read like the secret, never from the command line
    parser.add_argument(
        "--with-encrypt-key",
        action="store_true",
        help="also read the app's Encrypt Key (event subscriptions) from a prompt or stdin",
    )
    parser.add_argument(
        "--with-verification-token",
        action="store_true",
        help="also read the app's Verification Token from a prompt or stdin",
    )


def _event_keys(args: argparse.Namespace) -> dict[str, str]:
    """The keys asked for with ``--with-...``, read in this order after any secret."""
    keys: dict[str, str] = {}
    if args.with_encrypt_key:
        keys["encrypt_key"] = read_secret(f"encrypt_key for {args.app_id}: ")
    if args.with_verification_token:
        keys["verification_token"] = read_secret(f"verification_token for {args.app_id}: ")
    return keys


def read_secret(prompt: str) -> str:
    """A secret from the terminal (not echoed) or from the first line of stdin."""
    value = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline().strip()
    if not value:
        raise ConfigError("no secret given")
    return value


@asynccontextmanager
async def _pool(args: argparse.Namespace) -> AsyncIterator[CredentialPool]:
    async with application(settings_from(args), embedded_default=True) as app:
        pool: CredentialPool = await app.services.pool()
        yield pool


def _flags(app: AppConfig) -> list[str]:
    flags = [app.app_type.value if isinstance(app.app_type, AppType) else str(app.app_type)]
    flags.append("enabled" if app.enabled else "disabled")
    if app.is_default:
        flags.append("default")
    return flags


def _line(app: AppConfig) -> str:
    return f"{app.app_id}\t{app.name or '-'}\t{app.domain}\t{', '.join(_flags(app))}"


def _secret(value: str | None) -> str:
    return "(set, not shown)" if value else "(not set)"


def describe_app(app: AppConfig) -> str:
    """A readable record of ``app``; secrets appear only as set or not set."""
    rows = [
        ("app_id", app.app_id),
        ("name", app.name or "-"),
        ("app_type", _flags(app)[0]),
        ("domain", app.domain),
        ("base_url", app.base_url),
        ("enabled", "yes" if app.enabled else "no"),
        ("default", "yes" if app.is_default else "no"),
        ("event_mode", str(app.event_mode)),
        ("app_secret", _secret(app.app_secret)),
        ("encrypt_key", _secret(app.encrypt_key)),
        ("verification_token", _secret(app.verification_token)),
    ]
    width = max(len(k) for k, _ in rows) + 1
    return "\n".join(f"{k + ':':<{width}} {v}" for k, v in rows)


async def _add(args: argparse.Namespace) -> int:
    secret = read_secret(f"app_secret for {args.app_id}: ")
    keys = _event_keys(args)
    app = AppConfig(
        app_id=args.app_id,
        app_secret=secret,
        name=args.name,
        app_type=AppType(args.app_type),
        domain=args.domain,
        is_default=args.default,
        encrypt_key=keys.get("encrypt_key"),
        verification_token=keys.get("verification_token"),
        event_mode=EventMode(args.event_mode),
    )
    app.base_url  # noqa: B018 - validates the domain before anything is stored
    async with _pool(args) as pool:
        await pool.apps.add(app)
    print(f"added {args.app_id}" + (" (the default app)" if args.default else ""))
    return ExitCode.OK


async def _update(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    if args.name is not None:
        changes["name"] = args.name
    if args.domain is not None:
        resolve_base_url(args.domain)  # a bad domain is refused before anything is stored
        changes["domain"] = args.domain
    if args.app_type is not None:
        changes["app_type"] = AppType(args.app_type)
    if args.event_mode is not None:
        changes["event_mode"] = EventMode(args.event_mode)
    if not changes and not (args.with_encrypt_key or args.with_verification_token):
        raise ConfigError(
            "nothing to change: give --name, --domain, --app-type, --event-mode, "
            "--with-encrypt-key or --with-verification-token"
        )
    changes.update(_event_keys(args))
    async with _pool(args) as pool:
        await pool.apps.update(args.app_id, **changes)
    print(f"updated {args.app_id}: {', '.join(sorted(changes))}")
    return ExitCode.OK


async def _list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    async with _pool(args) as pool:
        apps = sorted(pool.apps.list(), key=lambda a: a.app_id)
    if settings.database_url is None:
        where = f"{settings.resolved_data_dir() / 'lark-service.db'} (embedded default)"
    else:
        where = redact_url(settings.database_url)
    print(f"# store: {where}")
    for app in apps:
        print(_line(app))
    if not apps:
        print("# no apps yet: lark-service apps add <app_id>")
    return ExitCode.OK


async def _show(args: argparse.Namespace) -> int:
    async with _pool(args) as pool:
        app = pool.apps.get(args.app_id)
    print(describe_app(app))
    return ExitCode.OK


async def _set_default(args: argparse.Namespace) -> int:
    async with _pool(args) as pool:
        await pool.apps.set_default(args.app_id)
    return _done("default app is now", args.app_id)


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
    return ExitCode.OK


async def _rotate(args: argparse.Namespace) -> int:
    secret = read_secret(f"new app_secret for {args.app_id}: ")
    async with _pool(args) as pool:
        await pool.apps.rotate_secret(args.app_id, secret)
    print(f"rotated the secret of {args.app_id}")
    return ExitCode.OK


async def _validate(args: argparse.Namespace) -> int:
    async with _pool(args) as pool:
        await pool.apps.validate(args.app_id)
    print(f"{args.app_id}: credentials work")
    return ExitCode.OK


async def _import(args: argparse.Namespace) -> int:
    async with _pool(args) as pool:
        apps = await pool.apps.load_toml(args.file)
    names = ", ".join(a.app_id for a in apps) or "none"
    print(f"imported {len(apps)} app(s) from {args.file}: {names}")
    return ExitCode.OK
