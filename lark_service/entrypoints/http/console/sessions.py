"""Console sessions: an admin API key exchanged for a random session id, kept in memory.

The cookie carries only the session id (256 random bits); the key itself is never stored
here, only its ``key_id`` so that revoking the key ends its sessions. Every session has an
absolute lifetime and an idle timeout, and its own CSRF token that each form echoes in a
hidden field (compared in constant time).

Sessions live in the process: a restart, or another replica behind a load balancer without
sticky sessions, signs the operator out (a shared store is not needed for a few operators).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "lark_console_session"
LOGIN_COOKIE = "lark_console_login"  # the pre-sign-in CSRF token (double-submit)
CSRF_FIELD = "csrf_token"
DEFAULT_LIFETIME = 8 * 3600.0
DEFAULT_IDLE = 30 * 60.0
MAX_SESSIONS = 1000


@dataclass(slots=True)
class Flash:
    """A one-time message shown on the next page (``level`` is ``ok`` or ``error``)."""

    level: str
    text: str


@dataclass(slots=True)
class ConsoleSession:
    session_id: str
    key_id: str
    key_name: str
    csrf_token: str
    created_at: float
    last_seen: float
    flashes: list[Flash] = field(default_factory=list)

    def flash(self, level: str, text: str) -> None:
        self.flashes.append(Flash(level, text))

    def take_flashes(self) -> list[Flash]:
        out, self.flashes = self.flashes, []
        return out

    def csrf_ok(self, presented: str | None) -> bool:
        return tokens_match(self.csrf_token, presented)


def tokens_match(expected: str, presented: str | None) -> bool:
    """Constant-time comparison; an absent or empty token never matches."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


class ConsoleSessions:
    """The signed-in sessions of one console (one per app instance)."""

    def __init__(
        self,
        *,
        now: Callable[[], float],
        lifetime: float = DEFAULT_LIFETIME,
        idle: float = DEFAULT_IDLE,
    ) -> None:
        self._now = now
        self.lifetime = lifetime
        self.idle = idle
        self._sessions: dict[str, ConsoleSession] = {}

    def create(self, *, key_id: str, key_name: str) -> ConsoleSession:
        """A new session with a fresh id (never reused: no session fixation)."""
        self._expire()
        if len(self._sessions) >= MAX_SESSIONS:  # bounded: drop the least recently used
            oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
            del self._sessions[oldest.session_id]
        now = self._now()
        session = ConsoleSession(
            session_id=secrets.token_urlsafe(32),
            key_id=key_id,
            key_name=key_name,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
        )
        self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> ConsoleSession | None:
        """The live session, its idle timer restarted; ``None`` if unknown or expired."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._now()
        if now - session.created_at > self.lifetime or now - session.last_seen > self.idle:
            del self._sessions[session_id]
            return None
        session.last_seen = now
        return session

    def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def drop_key(self, key_id: str) -> None:
        """End every session signed in with ``key_id`` (the key was revoked)."""
        for session in [s for s in self._sessions.values() if s.key_id == key_id]:
            del self._sessions[session.session_id]

    def __len__(self) -> int:
        return len(self._sessions)

    def _expire(self) -> None:
        now = self._now()
        for session in list(self._sessions.values()):
            if now - session.created_at > self.lifetime or now - session.last_seen > self.idle:
                del self._sessions[session.session_id]
