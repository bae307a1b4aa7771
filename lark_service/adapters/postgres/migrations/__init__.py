"""Schema migrations, driven from code (no ``alembic.ini``, no dependence on the cwd).

``script_location`` is this package's directory, so migrations run the same from a source
checkout or an installed wheel. Each call opens an async engine on the URL and hands its
connection to ``env.py`` (alembic's "connection sharing" recipe for asyncio).

The sync functions (``upgrade``, ``downgrade``, ``current``) call ``asyncio.run`` and so
must not be called from a running event loop; use the ``*_async`` twins there.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from lark_service.adapters.postgres.engine import create_engine, store_error
from lark_service.adapters.postgres.schema import DEFAULT_PREFIX
from lark_service.domain.errors import ConfigError

__all__ = [
    "alembic_config",
    "current",
    "current_async",
    "current_heads",
    "downgrade",
    "downgrade_async",
    "head_revision",
    "table_prefix",
    "upgrade",
    "upgrade_async",
    "version_table",
]

T = TypeVar("T")
_SCRIPT_LOCATION = str(Path(__file__).resolve().parent)


def version_table(prefix: str) -> str:
    return f"{prefix}alembic_version"


def table_prefix() -> str:
    """The prefix of the migration being run (for revision scripts and ``env.py``)."""
    return str(context.config.attributes.get("table_prefix", DEFAULT_PREFIX))


def alembic_config(table_prefix: str = DEFAULT_PREFIX) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _SCRIPT_LOCATION)
    cfg.attributes["table_prefix"] = table_prefix
    return cfg


@functools.cache
def head_revision() -> str | None:
    """The newest revision shipped with this package."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_heads(conn: Connection, table_prefix: str = DEFAULT_PREFIX) -> tuple[str, ...]:
    """Revisions applied to the database on ``conn`` (empty when never migrated)."""
    ctx = MigrationContext.configure(conn, opts={"version_table": version_table(table_prefix)})
    return tuple(ctx.get_current_heads())


async def _with_connection(database_url: str, action: str, fn: Callable[[Connection], T]) -> T:
    engine = create_engine(database_url, pooled=False)
    try:
        conn: AsyncConnection
        async with engine.begin() as conn:
            return await conn.run_sync(fn)
    except (SQLAlchemyError, OSError) as exc:
        raise store_error(action, exc, database_url) from None
    except CommandError as exc:  # e.g. an unknown revision
        raise ConfigError(f"{action}: {exc}") from None
    finally:
        await engine.dispose()


def _command(cfg: Config, run: Callable[[Config], None]) -> Callable[[Connection], None]:
    def fn(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        run(cfg)

    return fn


async def upgrade_async(
    database_url: str, revision: str = "head", *, table_prefix: str = DEFAULT_PREFIX
) -> None:
    cfg = alembic_config(table_prefix)
    run = _command(cfg, lambda c: command.upgrade(c, revision))
    await _with_connection(database_url, "migration upgrade", run)


async def downgrade_async(
    database_url: str, revision: str, *, table_prefix: str = DEFAULT_PREFIX
) -> None:
    cfg = alembic_config(table_prefix)
    run = _command(cfg, lambda c: command.downgrade(c, revision))
    await _with_connection(database_url, "migration downgrade", run)


async def current_async(database_url: str, *, table_prefix: str = DEFAULT_PREFIX) -> str | None:
    """The applied revision, or ``None`` for an empty database."""
    heads = await _with_connection(
        database_url, "reading the migration state", lambda c: current_heads(c, table_prefix)
    )
    return ",".join(heads) or None


def upgrade(
    database_url: str, revision: str = "head", *, table_prefix: str = DEFAULT_PREFIX
) -> None:
    asyncio.run(upgrade_async(database_url, revision, table_prefix=table_prefix))


def downgrade(database_url: str, revision: str, *, table_prefix: str = DEFAULT_PREFIX) -> None:
    asyncio.run(downgrade_async(database_url, revision, table_prefix=table_prefix))


def current(database_url: str, *, table_prefix: str = DEFAULT_PREFIX) -> str | None:
    return asyncio.run(current_async(database_url, table_prefix=table_prefix))
