"""`GrantSessionStore` on `SqlDatabase`: ``{prefix}grant_sessions`` (PostgreSQL or SQLite)."""

from __future__ import annotations

from sqlalchemy import RowMapping, delete, select

from lark_service.adapters.postgres.database import SqlDatabase
from lark_service.domain.grants import GrantSession, GrantSessionStatus

__all__ = ["SqlGrantSessionStore"]


class SqlGrantSessionStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._t = db.tables.grant_sessions

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    async def save_session(self, session: GrantSession) -> None:
        values = {
            "session_id": session.session_id,
            "app_id": session.app_id,
            "user_id": session.user_id,
            "status": session.status.value,
            "created_at": session.created_at,
            "expires_at": session.expires_at,
            "message_id": session.message_id,
            "reason": session.reason[:255],
            "updated_at": session.updated_at,
        }
        await self._db.write("saving a grant session", self._db.upsert(self._t, values))

    async def load_session(self, session_id: str) -> GrantSession | None:
        t = self._t
        stmt = select(t).where(t.c.session_id == session_id)
        rows = await self._db.rows("reading a grant session", stmt)
        return _session(rows[0]) if rows else None

    async def pending_sessions(
        self, *, app_id: str | None = None, user_id: str | None = None
    ) -> list[GrantSession]:
        t = self._t
        stmt = select(t).where(t.c.status == GrantSessionStatus.PENDING.value)
        if app_id is not None:
            stmt = stmt.where(t.c.app_id == app_id)
        if user_id is not None:
            stmt = stmt.where(t.c.user_id == user_id)
        stmt = stmt.order_by(t.c.created_at, t.c.session_id)
        return [_session(r) for r in await self._db.rows("listing grant sessions", stmt)]

    async def delete_sessions_before(self, ended_before: float) -> int:
        t = self._t
        stmt = delete(t).where(
            t.c.status != GrantSessionStatus.PENDING.value, t.c.expires_at < ended_before
        )
        return await self._db.write("pruning grant sessions", stmt)


def _session(r: RowMapping) -> GrantSession:
    return GrantSession(
        session_id=r["session_id"],
        app_id=r["app_id"],
        user_id=r["user_id"],
        status=GrantSessionStatus(r["status"]),
        created_at=r["created_at"],
        expires_at=r["expires_at"],
        message_id=r["message_id"],
        reason=r["reason"],
        updated_at=r["updated_at"],
    )
