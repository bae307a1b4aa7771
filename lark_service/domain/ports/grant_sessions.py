from __future__ import annotations

from typing import Protocol

from lark_service.domain.grants import GrantSession


class GrantSessionStore(Protocol):
    """Keeps authorization sessions (pending, completed, expired, failed) between replicas.

    Failures raise ``StoreError``.
    """

    async def save_session(self, session: GrantSession) -> None:
        """Insert or replace the session ``session.session_id``."""
        ...

    async def load_session(self, session_id: str) -> GrantSession | None: ...

    async def pending_sessions(
        self, *, app_id: str | None = None, user_id: str | None = None
    ) -> list[GrantSession]:
        """Pending sessions, of one app and user when given, oldest first."""
        ...

    async def delete_sessions_before(self, ended_before: float) -> int:
        """Delete ended (not pending) sessions whose ``expires_at`` is before
        ``ended_before``; returns how many."""
        ...


class GrantObserver(Protocol):
    """Told when a user's grant can no longer be refreshed (token care prompts the user)."""

    async def grant_lapsed(self, app_id: str, user_id: str, reason: str) -> None:
        """``reason``: ``expired`` (the refresh token ran out) or ``refused`` (Lark
        rejected it: revoked, already used, invalid)."""
        ...
