"""The ``{prefix}grant_sessions`` table (migration 0003): OAuth authorization sessions.

No secret lives here: the state is signed, not stored, and the PKCE verifier is derived.
"""

from __future__ import annotations

from sqlalchemy import Column, Double, Index, MetaData, String, Table

__all__ = ["grant_sessions_table"]


def grant_sessions_table(md: MetaData, p: str) -> Table:
    return Table(
        f"{p}grant_sessions",
        md,
        Column("session_id", String(64), primary_key=True),
        Column("app_id", String(64), nullable=False),
        Column("user_id", String(255), nullable=False),
        Column("status", String(16), nullable=False),
        Column("created_at", Double, nullable=False),
        Column("expires_at", Double, nullable=False),
        Column("message_id", String(255), nullable=False),
        Column("reason", String(255), nullable=False),
        Column("updated_at", Double, nullable=False),
        Index(f"ix_{p}grant_sessions_status_app_user", "status", "app_id", "user_id"),
    )
