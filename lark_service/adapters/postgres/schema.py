"""SQLAlchemy Core tables for the credential store; every name carries ``table_prefix``.

Columns holding secrets are ``Text`` with base64 ciphertext from ``SecretCipher``, so the
same schema works on PostgreSQL and SQLite. There are no foreign keys: tokens may be kept
for apps configured elsewhere (a config file), and ``delete_app`` deletes related rows
explicitly in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from lark_service.adapters.postgres.schema_grants import grant_sessions_table

__all__ = ["DEFAULT_PREFIX", "Tables", "build_tables"]

DEFAULT_PREFIX = "lark_"


@dataclass(frozen=True, slots=True)
class Tables:
    prefix: str
    metadata: MetaData
    meta: Table
    apps: Table
    tokens: Table
    app_tickets: Table
    user_tokens: Table
    processed_events: Table
    jobs: Table
    api_keys: Table
    grant_sessions: Table
    leases: Table

    def per_app(self) -> tuple[Table, ...]:
        """Tables holding rows that belong to one app (deleted with it)."""
        return (self.tokens, self.app_tickets, self.user_tokens, self.apps)

    def encrypted(self) -> tuple[tuple[Table, tuple[str, ...]], ...]:
        """Each table with the columns that hold ciphertext."""
        return (
            (self.meta, ("value",)),
            (self.apps, ("app_secret", "encrypt_key", "verification_token")),
            (self.tokens, ("token",)),
            (self.app_tickets, ("ticket",)),
            (self.user_tokens, ("access_token", "refresh_token")),
        )

    def aad(self, table: Table, column: str, row: Mapping[Any, Any]) -> bytes:
        """Associated data binding a ciphertext to its column and row (not to the prefix)."""
        pk = "\x1f".join(str(row[c.name]) for c in table.primary_key.columns)
        return f"{table.name.removeprefix(self.prefix)}.{column}|{pk}".encode()


def _ts(name: str) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=False)


def build_tables(prefix: str = DEFAULT_PREFIX) -> Tables:
    """Fresh metadata with all tables named ``{prefix}{name}``."""
    md = MetaData()
    p = prefix
    meta = Table(
        f"{p}meta",
        md,
        Column("key", String(64), primary_key=True),
        Column("value", Text, nullable=False),
    )
    apps = Table(
        f"{p}apps",
        md,
        Column("app_id", String(64), primary_key=True),
        Column("name", String(255), nullable=False),
        Column("app_type", String(32), nullable=False),
        Column("domain", String(255), nullable=False),
        Column("app_secret", Text, nullable=False),
        Column("encrypt_key", Text, nullable=True),
        Column("verification_token", Text, nullable=True),
        Column("is_default", Boolean, nullable=False),
        Column("enabled", Boolean, nullable=False),
        # webhook | websocket (migration 0004)
        Column("event_mode", String(16), nullable=False, server_default="webhook"),
        _ts("created_at"),
        _ts("updated_at"),
    )
    tokens = Table(
        f"{p}tokens",
        md,
        Column("app_id", String(64), primary_key=True),
        Column("kind", String(16), primary_key=True),
        Column("tenant_key", String(255), primary_key=True),
        Column("user_id", String(255), primary_key=True),
        Column("token", Text, nullable=False),
        Column("expires_at", Double, nullable=False),
        _ts("updated_at"),
    )
    app_tickets = Table(
        f"{p}app_tickets",
        md,
        Column("app_id", String(64), primary_key=True),
        Column("ticket", Text, nullable=False),
        Column("expires_at", Double, nullable=False),
        _ts("updated_at"),
    )
    user_tokens = Table(
        f"{p}user_tokens",
        md,
        Column("app_id", String(64), primary_key=True),
        Column("user_id", String(255), primary_key=True),
        Column("access_token", Text, nullable=False),
        Column("expires_at", Double, nullable=False),
        Column("refresh_token", Text, nullable=False),
        Column("refresh_expires_at", Double, nullable=False),
        Column("scope", Text, nullable=False),
        _ts("updated_at"),
        # when the user authorized the app, clock seconds; NULL: unknown (before migration 0006)
        Column("granted_at", Double, nullable=True),
    )
    processed_events = Table(
        f"{p}processed_events",
        md,
        Column("event_id", String(255), primary_key=True),
        Column("expires_at", Double, nullable=False),
        Index(f"ix_{p}processed_events_expires_at", "expires_at"),
    )
    jobs, api_keys = _service_tables(md, p)
    # who holds a duty across replicas (an app's long connection), until expires_at; for a
    # periodic duty (upkeep), how often it ran across holders and when last (migration 0005)
    leases = Table(
        f"{p}leases",
        md,
        Column("name", String(255), primary_key=True),
        Column("holder", String(255), nullable=False),
        Column("expires_at", Double, nullable=False),
        Column("runs", BigInteger, nullable=False, server_default="0"),
        Column("last_run_at", Double, nullable=True),
    )
    return Tables(
        prefix,
        md,
        meta,
        apps,
        tokens,
        app_tickets,
        user_tokens,
        processed_events,
        jobs,
        api_keys,
        grant_sessions_table(md, p),
        leases,
    )


def _service_tables(md: MetaData, p: str) -> tuple[Table, Table]:
    """The HTTP service's send jobs and API keys (digests only, so nothing to encrypt)."""
    jobs = Table(
        f"{p}jobs",
        md,
        Column("job_id", String(64), primary_key=True),
        Column("app_id", String(64), nullable=False),
        Column("status", String(16), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("message_id", String(255), nullable=True),
        Column("error_code", BigInteger, nullable=True),
        Column("error_msg", Text, nullable=True),
        Column("log_id", String(255), nullable=True),
        Column("updated_at", Double, nullable=False),
        Index(f"ix_{p}jobs_status_updated_at", "status", "updated_at"),
    )
    api_keys = Table(
        f"{p}api_keys",
        md,
        Column("key_id", String(32), primary_key=True),
        Column("key_hash", String(64), nullable=False),
        Column("scopes", String(255), nullable=False),
        Column("name", String(255), nullable=False),
        Column("created_at", Double, nullable=False),
        Column("revoked_at", Double, nullable=True),
        UniqueConstraint("key_hash", name=f"uq_{p}api_keys_key_hash"),
    )
    return jobs, api_keys
