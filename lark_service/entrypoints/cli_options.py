"""What every ``lark-service`` command shares: exit codes, store options, settings.

Why argparse and not typer or cyclopts: the command line is a dozen small commands whose
parsing is declarative already; a CLI framework would add a dependency to every service
that embeds the library, for no command we cannot express here. The one hand-written part,
options accepted before or after the sub-command, is the ``SUPPRESS`` default below.
"""

from __future__ import annotations

import argparse
import enum
from typing import Any

from lark_service.entrypoints.settings import Settings, check_database_url, load_settings

__all__ = ["EXIT_CODES_HELP", "ExitCode", "settings_from", "store_options"]


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    """Lark, the network or the database failed, or the user declined."""
    USAGE = 2
    """Bad arguments or configuration, an unknown app, an unmigrated database."""
    INTERRUPTED = 130


EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    Lark, the network or the database failed (or a confirmation was declined)
  2    usage or configuration error: bad arguments or settings, unknown app,
       unusable database URL, database not migrated
  130  interrupted (Ctrl-C)

settings come from LARK_SERVICE_* environment variables and the TOML file named by
LARK_SERVICE_CONFIG (or --config); options given here win."""


def store_options() -> argparse.ArgumentParser:
    """A parent parser with ``--database-url`` and ``--table-prefix``.

    Added to a command group and to each of its commands, so the options work before and
    after the sub-command; ``SUPPRESS`` keeps a later parser from resetting an earlier value.
    """
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--database-url",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="postgresql+asyncpg://USER@HOST:5432/DB or sqlite+aiosqlite:///PATH "
        "(default: $LARK_SERVICE_DATABASE_URL, else the embedded SQLite file in the data "
        "dir); prefer the variable when the URL holds a password",
    )
    parent.add_argument(
        "--table-prefix",
        default=argparse.SUPPRESS,
        metavar="PREFIX",
        help="prefix of every table (default: $LARK_SERVICE_TABLE_PREFIX, else lark_)",
    )
    return parent


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings (environment, config file), overridden by the command's options."""
    url: Any = getattr(args, "database_url", None)
    if url is not None:
        check_database_url(url, "--database-url")
    settings = load_settings(config_file=getattr(args, "config", None))
    return settings.replace(database_url=url, table_prefix=getattr(args, "table_prefix", None))
