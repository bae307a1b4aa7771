"""`GrantSessionStore` in memory (one process; tests and the embedded service)."""

from __future__ import annotations

from lark_service.domain.grants import GrantSession, GrantSessionStatus

__all__ = ["InMemoryGrantSessionStore"]


class InMemoryGrantSessionStore:
    def __init__(self) -> None:
        self._sessions: dict[str, GrantSession] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._sessions)} sessions)"

    async def save_session(self, session: GrantSession) -> None:
        self._sessions[session.session_id] = session

    async def load_session(self, session_id: str) -> GrantSession | None:
        return self._sessions.get(session_id)

    async def pending_sessions(
        self, *, app_id: str | None = None, user_id: str | None = None
    ) -> list[GrantSession]:
        found = [
            s
            for s in self._sessions.values()
            if s.status is GrantSessionStatus.PENDING
            and (app_id is None or s.app_id == app_id)
            and (user_id is None or s.user_id == user_id)
        ]
        return sorted(found, key=lambda s: s.created_at)

    async def delete_sessions_before(self, ended_before: float) -> int:
        gone = [sid for sid, s in self._sessions.items() if s.ended and s.expires_at < ended_before]
        for sid in gone:
            del self._sessions[sid]
        return len(gone)
