"""``lark-service db upgrade|downgrade|current`` and ``lark-service secret-key generate|rotate``.

The database URL comes from ``--database-url``, else ``LARK_SERVICE_DATABASE_URL``, else the
embedded SQLite file in the data dir. Secret keys are read from the environment or stdin,
never from argv, and only ``secret-key generate`` prints one (the key it just made).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from lark_service.adapters.postgres import (
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
from lark_service.adapters.postgres.schema import DEFAULT_PREFIX
from lark_service.domain.errors import ConfigError, LarkServiceError
from lark_service.entrypoints.settings import Settings, load_settings

__all__ = ["add_parsers"]

SECRET_KEY_ENV = "LARK_SERVICE_SECRET_KEY"  # noqa: S105  # nosec B105
NEW_SECRET_KEY_ENV = "LARK_SERVICE_NEW_SECRET_KEY"  # noqa: S105  # nosec B105
DATABASE_URL_ENV = "LARK_SERVICE_DATABASE_URL"


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings().replace(database_url=args.database_url)


def _database_url(args: argparse.Namespace) -> str:
    settings = _settings(args)
    url = settings.database_url
    return url if url else embedded_database_url(settings.resolved_data_dir())


def _fail(exc: LarkServiceError) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 1


def _describe(revision: str | None) -> str:
    if revision is None:
        return "no revision (empty database)"
    return f"{revision} (head)" if revision == head_revision() else revision


async def _migrate(args: argparse.Namespace, step: Callable[..., Awaitable[None]] | None) -> int:
    """Run ``step`` (upgrade or downgrade, or nothing), then print the revision."""
    url = _database_url(args)
    try:
        if step is not None:
            await step(url, args.revision, table_prefix=args.table_prefix)
        revision = await current_async(url, table_prefix=args.table_prefix)
    except LarkServiceError as exc:
        return _fail(exc)
    print(f"{safe_url(url)}: at {_describe(revision)}")
    return 0


async def _db_upgrade(args: argparse.Namespace) -> int:
    return await _migrate(args, upgrade_async)


async def _db_downgrade(args: argparse.Namespace) -> int:
    return await _migrate(args, downgrade_async)


async def _db_current(args: argparse.Namespace) -> int:
    return await _migrate(args, None)


async def _key_generate(args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def _read_new_key() -> str:
    if key := (load_settings().new_secret_key or "").strip():
        return key
    if sys.stdin.isatty():
        key = getpass.getpass("new secret key (from `lark-service secret-key generate`): ")
    else:
        key = sys.stdin.readline()
    if not key.strip():
        raise ConfigError(f"no new key: set {NEW_SECRET_KEY_ENV} or pipe the key on stdin")
    return key.strip()


async def _key_rotate(args: argparse.Namespace) -> int:
    url = _database_url(args)
    db_file = sqlite_file(url)
    key_file: Path | None = None
    try:
        old = (_settings(args).secret_key or "").strip()
        if not old and db_file is not None:
            key_file = key_file_for(db_file)
            old = read_key_file(key_file) or ""
        if not old:
            raise ConfigError(f"no current key: set {SECRET_KEY_ENV}")
        new = _read_new_key()
        if key_file is None:
            count = await rotate_secret_key(url, old, new, table_prefix=args.table_prefix)
        else:
            # Keep the new key on disk before the database switches to it.
            pending = key_file.with_name(key_file.name + ".new")
            write_key_file(pending, new)
            try:
                count = await rotate_secret_key(url, old, new, table_prefix=args.table_prefix)
            except BaseException:
                pending.unlink(missing_ok=True)
                raise
            pending.replace(key_file)
    except LarkServiceError as exc:
        return _fail(exc)
    print(f"re-encrypted {count} values under the new key")
    if key_file is not None:
        print(f"the key file {key_file} now holds the new key")
    else:
        print(f"set {SECRET_KEY_ENV} to the new key (or 'new,old' until every process has it)")
    return 0


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``db`` and ``secret-key`` command groups to the top-level CLI parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--database-url",
        help=f"SQLAlchemy URL (default: ${DATABASE_URL_ENV}, else the embedded SQLite file); "
        "prefer the env var when the URL has a password",
    )
    common.add_argument("--table-prefix", default=DEFAULT_PREFIX, help="default: %(default)s")

    db = subparsers.add_parser("db", help="create or migrate the credential store's schema")
    db_cmds = db.add_subparsers(dest="db_command", required=True)
    p = db_cmds.add_parser("upgrade", parents=[common], help="migrate to a revision")
    p.add_argument("revision", nargs="?", default="head", help="default: %(default)s")
    p.set_defaults(func=_db_upgrade)
    p = db_cmds.add_parser("downgrade", parents=[common], help="migrate back to a revision")
    p.add_argument("revision", help="e.g. 'base' to drop every table, or '-1'")
    p.set_defaults(func=_db_downgrade)
    p = db_cmds.add_parser("current", parents=[common], help="show the applied revision")
    p.set_defaults(func=_db_current)

    keys = subparsers.add_parser("secret-key", help="create or rotate the at-rest secret key")
    key_cmds = keys.add_subparsers(dest="secret_key_command", required=True)
    p = key_cmds.add_parser("generate", help="print a new random key")
    p.set_defaults(func=_key_generate)
    p = key_cmds.add_parser(
        "rotate",
        parents=[common],
        help=f"re-encrypt all secrets: old key from ${SECRET_KEY_ENV} (or the SQLite key "
        f"file), new key from ${NEW_SECRET_KEY_ENV} or stdin",
    )
    p.set_defaults(func=_key_rotate)
