"""``lark-service db upgrade|downgrade|current`` and ``lark-service secret-key generate|rotate``.

The database URL comes from ``--database-url``, else ``LARK_SERVICE_DATABASE_URL``, else the
embedded SQLite file in the data dir. Secret keys are read from the settings or stdin,
never from argv, and only ``secret-key generate`` prints one (the key it just made).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from lark_service.adapters.postgres import (
    SqlDatabase,
    current_async,
    downgrade_async,
    embedded_database_url,
    generate_key,
    rotate_secret_key,
    upgrade_async,
)
from lark_service.adapters.postgres.engine import safe_url
from lark_service.adapters.postgres.keyfile import (
    key_file_for,
    read_key_file,
    sqlite_file,
    write_key_file,
)
from lark_service.adapters.postgres.migrations import head_revision
from lark_service.domain.errors import ConfigError
from lark_service.entrypoints.cli_options import (
    EXIT_CODES_HELP,
    ExitCode,
    settings_from,
    store_options,
)
from lark_service.entrypoints.settings import Settings

__all__ = ["add_parsers"]

SECRET_KEY_ENV = "LARK_SERVICE_SECRET_KEY"  # noqa: S105  # nosec B105 - a variable name
NEW_SECRET_KEY_ENV = "LARK_SERVICE_NEW_SECRET_KEY"  # noqa: S105  # nosec B105


def _database_url(settings: Settings) -> str:
    url = settings.database_url
    return url if url else embedded_database_url(settings.resolved_data_dir())


def _describe(revision: str | None) -> str:
    if revision is None:
        return "no revision (empty database)"
    return f"{revision} (head)" if revision == head_revision() else revision


async def _db_upgrade(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    url, prefix = _database_url(settings), settings.table_prefix
    before = await current_async(url, table_prefix=prefix)
    await upgrade_async(url, args.revision, table_prefix=prefix)
    after = await current_async(url, table_prefix=prefix)
    if before == after:
        print(f"{safe_url(url)}: already at {_describe(after)}; nothing to migrate")
    else:
        print(f"{safe_url(url)}: migrated from {_describe(before)} to {_describe(after)}")
    return ExitCode.OK


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


async def _db_downgrade(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    url, prefix = _database_url(settings), settings.table_prefix
    before = await current_async(url, table_prefix=prefix)
    drops = "drop every table and the data in it" if args.revision == "base" else "drop data"
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError(
                f"downgrading {safe_url(url)} to {args.revision} may {drops}: pass --yes to confirm"
            )
        if not _confirm(f"Downgrade {safe_url(url)} to {args.revision}? This may {drops}."):
            print("not downgraded")
            return ExitCode.FAILED
    await downgrade_async(url, args.revision, table_prefix=prefix)
    after = await current_async(url, table_prefix=prefix)
    print(f"{safe_url(url)}: downgraded from {_describe(before)} to {_describe(after)}")
    return ExitCode.OK


async def _db_current(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    url = _database_url(settings)
    revision = await current_async(url, table_prefix=settings.table_prefix)
    print(f"{safe_url(url)}: at {_describe(revision)}")
    if revision != head_revision():
        print(f"# run `lark-service db upgrade` to migrate to {head_revision()}")
    return ExitCode.OK


async def _key_generate(args: argparse.Namespace) -> int:
    print(generate_key())
    return ExitCode.OK


def _read_new_key(settings: Settings) -> str:
    if key := (settings.new_secret_key or "").strip():
        return key
    if sys.stdin.isatty():
        key = getpass.getpass("new secret key (from `lark-service secret-key generate`): ")
    else:
        key = sys.stdin.readline()
    if not key.strip():
        raise ConfigError(f"no new key: set {NEW_SECRET_KEY_ENV} or pipe the key on stdin")
    return key.strip()


async def _key_rotate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    url, prefix = _database_url(settings), settings.table_prefix
    db_file = sqlite_file(url)
    key_file: Path | None = None
    old = (settings.secret_key or "").strip()
    if not old and db_file is not None:
        key_file = key_file_for(db_file)
        # Opening settles a rotation that stopped after its commit (its key is still only
        # in the pending file, which this rotation would overwrite).
        await (await SqlDatabase.open(url, secret_key=None, table_prefix=prefix)).aclose()
        old = read_key_file(key_file) or ""
    if not old:
        raise ConfigError(f"no current key: set {SECRET_KEY_ENV}")
    new = _read_new_key(settings)
    if key_file is None:
        count = await rotate_secret_key(url, old, new, table_prefix=prefix)
    else:
        # Keep the new key on disk before the database switches to it.
        pending = key_file.with_name(key_file.name + ".new")
        write_key_file(pending, new)
        try:
            count = await rotate_secret_key(url, old, new, table_prefix=prefix)
        except BaseException:
            pending.unlink(missing_ok=True)
            raise
        pending.replace(key_file)
    print(f"re-encrypted {count} values under the new key")
    if key_file is not None:
        print(f"the key file {key_file} now holds the new key")
    else:
        print(f"set {SECRET_KEY_ENV} to the new key (or 'new,old' until every process has it)")
    return ExitCode.OK


def add_parsers(subparsers: Any) -> None:
    """Add the ``db`` and ``secret-key`` command groups to the top-level CLI parser."""
    options = store_options()
    fmt: dict[str, Any] = {
        "epilog": EXIT_CODES_HELP,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }

    db = subparsers.add_parser(
        "db",
        parents=[options],
        help="create or migrate the credential store's schema",
        description="Create or migrate the credential store's schema.",
        **fmt,
    )
    db_cmds = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    p = db_cmds.add_parser("upgrade", parents=[options], help="migrate to a revision", **fmt)
    p.add_argument("revision", nargs="?", default="head", help="default: %(default)s")
    p.set_defaults(func=_db_upgrade)
    p = db_cmds.add_parser(
        "downgrade", parents=[options], help="migrate back to a revision (drops data)", **fmt
    )
    p.add_argument("revision", help="e.g. 'base' to drop every table, or '-1'")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=_db_downgrade)
    p = db_cmds.add_parser("current", parents=[options], help="show the applied revision", **fmt)
    p.set_defaults(func=_db_current)

    keys = subparsers.add_parser(
        "secret-key",
        parents=[options],
        help="create or rotate the at-rest secret key",
        description="Create or rotate the key that encrypts secrets at rest.",
        **fmt,
    )
    key_cmds = keys.add_subparsers(dest="secret_key_command", required=True, metavar="COMMAND")
    p = key_cmds.add_parser("generate", help="print a new random key", **fmt)
    p.set_defaults(func=_key_generate)
    p = key_cmds.add_parser(
        "rotate",
        parents=[options],
        help=f"re-encrypt all secrets: old key from ${SECRET_KEY_ENV} (or the SQLite key "
        f"file), new key from ${NEW_SECRET_KEY_ENV} or stdin",
        **fmt,
    )
    p.set_defaults(func=_key_rotate)
