"""How long a store operation may take: a store that stops answering costs seconds, not hours.

A PostgreSQL server (or a network path) that silently drops packets never resets the
connection, so without deadlines every call waits on TCP for minutes. Three bounds apply:

* ``connect``: opening a connection (asyncpg ``timeout``) and waiting for a pooled one
  (SQLAlchemy ``pool_timeout``);
* ``statement``: each statement (asyncpg ``command_timeout``), pings included;
* ``operation``: one store call in all, retries included (an asyncio deadline), after
  which it raises ``StoreError`` and the pool fetches from Lark directly;
* ``lock``: waiting for a token refresh lock (the holder fetches from Lark meanwhile).
"""

from __future__ import annotations

from dataclasses import dataclass

from lark_service.domain.errors import ConfigError

__all__ = ["DEFAULT_DEADLINES", "StoreDeadlines"]


@dataclass(frozen=True, slots=True)
class StoreDeadlines:
    connect: float = 3.0
    statement: float = 3.0
    operation: float = 5.0
    lock: float = 10.0

    def __post_init__(self) -> None:
        for name in ("connect", "statement", "operation", "lock"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"store deadline {name} must be a positive number of seconds")


DEFAULT_DEADLINES = StoreDeadlines()
