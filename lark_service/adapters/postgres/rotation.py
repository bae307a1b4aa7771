"""Re-encrypt every stored secret under a new key, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, select, update
from sqlalchemy.exc import SQLAlchemyError

from lark_service.adapters.postgres.crypto import SecretCipher, decode_key, parse_keys
from lark_service.adapters.postgres.engine import create_engine, store_error
from lark_service.adapters.postgres.migrations import current_heads, head_revision
from lark_service.adapters.postgres.schema import DEFAULT_PREFIX, Tables, build_tables
from lark_service.domain.errors import ConfigError

__all__ = ["rotate_secret_key"]


def _reencrypt(conn: Connection, t: Tables, reader: SecretCipher, writer: SecretCipher) -> int:
    if head_revision() not in current_heads(conn, t.prefix):
        raise ConfigError("database is not migrated: run `lark-service db upgrade` first")
    count = 0
    for table, columns in t.encrypted():
        pk = list(table.primary_key.columns)
        for row in conn.execute(select(table)).mappings().all():
            values: dict[str, str] = {}
            for c in columns:
                if row[c] is not None:
                    aad = t.aad(table, c, row)
                    values[c] = writer.encrypt(reader.decrypt(row[c], aad=aad), aad=aad)
            if values:
                where = and_(*(col == row[col.name] for col in pk))
                conn.execute(update(table).where(where).values(**values))
                count += len(values)
    return count


async def rotate_secret_key(
    database_url: str,
    old_keys: str | Sequence[str],
    new_key: str,
    *,
    table_prefix: str = DEFAULT_PREFIX,
) -> int:
    """Re-encrypt every encrypted column under ``new_key``; returns how many values.

    ``old_keys`` (a key, ``"k1,k2"``, or a list) must decrypt what is stored; values already
    under ``new_key`` are re-encrypted too. All or nothing: a value no key opens raises
    ``ConfigError`` and nothing changes. Afterwards configure ``new_key`` alone, or
    ``"new,old"`` while other processes still run with the old key.
    """
    text = old_keys if isinstance(old_keys, str) else ",".join(old_keys)
    new = decode_key(new_key)
    reader = SecretCipher([new, *parse_keys(text)])
    writer = SecretCipher([new])
    t = build_tables(table_prefix)
    engine = create_engine(database_url, pooled=False)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(_reencrypt, t, reader, writer)
    except (SQLAlchemyError, OSError) as exc:
        raise store_error("rotating the secret key", exc, database_url) from None
    finally:
        await engine.dispose()
