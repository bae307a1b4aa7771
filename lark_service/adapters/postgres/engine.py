"""Engine construction and the translation of driver failures into ``StoreError``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from lark_service.domain.errors import StoreError

__all__ = ["create_engine", "is_transient", "safe_url", "store_error"]


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
    database_url: str, *, pooled: bool = True, pool_size: int = 10, max_overflow: int = 20
) -> AsyncEngine:
    """An async engine that pings connections before use (so it survives server restarts)."""
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
        kw.update(pool_size=pool_size, max_overflow=max_overflow)
    engine = create_async_engine(url, **kw)
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def is_transient(exc: BaseException) -> bool:
    """A dropped or refused connection, or a busy SQLite file: worth one more try."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OperationalError, InterfaceError, OSError))


def store_error(action: str, exc: BaseException) -> StoreError:
    """A ``StoreError`` naming the failure's kind only: never the DSN, SQL or parameters."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    detail = type(orig).__name__
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate:
        detail += f" sqlstate={sqlstate}"
    return StoreError(f"credential store: {action} failed ({detail})")
