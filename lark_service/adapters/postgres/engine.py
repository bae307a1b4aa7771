"""Engine construction and the translation of driver failures into ``StoreError``."""

from __future__ import annotations

import socket
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from lark_service.adapters.postgres.deadlines import DEFAULT_DEADLINES, StoreDeadlines
from lark_service.domain.errors import StoreError

__all__ = ["create_engine", "is_transient", "safe_url", "store_error", "where"]


def safe_url(database_url: str) -> str:
    """The URL with any password replaced by ``***``, fit for logs and reprs."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<invalid database url>"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def create_engine(
    database_url: str,
    *,
    pooled: bool = True,
    pool_size: int = 10,
    max_overflow: int = 20,
    deadlines: StoreDeadlines = DEFAULT_DEADLINES,
) -> AsyncEngine:
    """An async engine that pings connections before use (so it survives server restarts).

    On PostgreSQL, connecting and each statement are bounded by ``deadlines``.
    """
    try:
        url = make_url(database_url)
    except SQLAlchemyError:
        raise StoreError("invalid database URL") from None
    backend = url.get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise StoreError(f"unsupported database {backend!r}: use postgresql+asyncpg or sqlite")
    kw: dict[str, Any] = {"pool_pre_ping": True}
    if not pooled:
        kw["poolclass"] = NullPool
    elif backend == "postgresql":
        kw.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=deadlines.connect)
    if backend == "postgresql":
        kw["connect_args"] = {
            "timeout": deadlines.connect,
            "command_timeout": deadlines.statement,
        }
    engine = create_async_engine(url, **kw)
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def is_transient(exc: BaseException) -> bool:
    """A dropped or refused connection, or a busy SQLite file: worth one more try."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OperationalError, InterfaceError, OSError))


def where(database_url: str) -> str:
    """``host:port/database`` of a PostgreSQL URL, or the file of an SQLite one (no password)."""
    try:
        url = make_url(database_url)
    except SQLAlchemyError:
        return "<invalid database url>"
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database}" if url.database else "SQLite in memory"
    host = f"{url.host or 'localhost'}:{url.port or 5432}"
    return f"PostgreSQL at {host}, database {url.database!r}"


def _hint(orig: BaseException, database_url: str) -> str:
    """What a person can do about a failure to reach the database, or ``""``."""
    try:
        url = make_url(database_url)
    except SQLAlchemyError:
        return ""
    sqlstate = getattr(orig, "sqlstate", None)
    host = url.host or "localhost"
    if sqlstate == "3D000":
        return (
            f"database {url.database!r} does not exist on {host}: "
            "create it (createdb) or fix the URL"
        )
    if sqlstate in ("28000", "28P01"):
        return f"{host} refused user {url.username!r}: check the user name and password"
    if isinstance(orig, ConnectionRefusedError):
        return f"nothing accepts connections on {host}:{url.port or 5432}: is PostgreSQL running?"
    if isinstance(orig, socket.gaierror):
        return f"cannot resolve the host name {host!r}"
    if isinstance(orig, TimeoutError):
        return f"timed out connecting to {host}"
    if url.get_backend_name() == "sqlite" and "unable to open" in str(orig):
        return f"cannot open {url.database}: does its directory exist and is it writable?"
    return ""


def store_error(action: str, exc: BaseException, database_url: str | None = None) -> StoreError:
    """A ``StoreError`` naming the failure's kind, never the password, SQL or parameters.

    With ``database_url``, the message also names the host (or file) and, for the usual
    connection failures, what to do about them.
    """
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    detail = type(orig).__name__
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate:
        detail += f" sqlstate={sqlstate}"
    message = f"credential store: {action} failed ({detail})"
    if database_url is not None:
        message += f" on {where(database_url)}"
        if hint := _hint(orig, database_url):
            message += f": {hint}"
    return StoreError(message)
