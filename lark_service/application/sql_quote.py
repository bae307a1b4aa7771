"""Binding parameters into SQL text for aPaaS ``sql_commands``, which takes only a raw string.

Lark's endpoint has no bind parameters, so values are turned into SQL literals here; values
are never pasted in with string formatting.

Placeholders (DB-API "pyformat", as psycopg): ``%s`` with a sequence of params, ``%(name)s``
with a mapping; ``%%`` is a literal ``%``. The template is lexed once, with PostgreSQL's rules
(`lark_service.application.sql_lexer`: nested comments, dollar quotes, escape strings, ...),
and placeholders are recognised only in SQL code, never inside the template's string
literals, quoted identifiers, dollar-quoted strings or comments; templates whose reading
would depend on a PostgreSQL setting or version, or where a value would merge with the text
next to it, are refused. Values are appended to the output and never scanned again, so a
placeholder inside a value is just data. (``:name`` was not chosen because it collides with
PostgreSQL's ``::`` casts.)

Literals (PostgreSQL, which aPaaS tables run on; the fake checks them with its own parser):

- ``str`` → ``'…'`` with ``'`` doubled (standard SQL). With PostgreSQL's
  ``standard_conforming_strings=on`` (the default since 9.1) a backslash inside ``'…'`` is
  an ordinary character, but with it off ``\\'`` would end the literal early. A string holding
  a backslash is therefore written as an escape string ``E'…'`` with ``\\`` doubled as well:
  its meaning does not depend on that setting. Strings without backslashes use plain
  ``'…'``. NUL characters are rejected (PostgreSQL cannot store them), and so are lone
  surrogates (not encodable as UTF-8).
- ``int``/``float``/``Decimal`` → digits; non-finite values are rejected; a negative
  number is parenthesised, so ``1-%s`` with ``-1`` gives ``1-(-1)``, not the comment ``1--1``.
- ``bool`` → ``TRUE``/``FALSE``; ``None`` → ``NULL``.
- ``datetime``/``date``/``time`` → their ISO text as a string literal (PostgreSQL casts it to
  the column's type); ``list``/``tuple`` of scalars → ``ARRAY[…]`` (empty or nested arrays are
  rejected: PostgreSQL cannot type an empty ``ARRAY[]``). Anything else raises `ConfigError`.

Identifiers (table or column names chosen at run time) go through `quote_identifier`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping, Sequence
from typing import Any

from lark_service.application.sql_lexer import split_template
from lark_service.domain.errors import ConfigError

__all__ = ["bind_params", "quote_identifier", "quote_literal"]


def quote_identifier(name: str) -> str:
    """``name`` as a quoted identifier: ``"…"`` with ``"`` doubled."""
    if not isinstance(name, str) or not name:
        raise ConfigError("an SQL identifier must be a non-empty string")
    if "\x00" in name:
        raise ConfigError("an SQL identifier must not contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def _quote_str(value: str) -> str:
    if "\x00" in value:
        raise ConfigError("an SQL string value must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(
            "an SQL string value must be valid Unicode (no lone surrogates)"
        ) from None
    if "\\" in value:
        return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + value.replace("'", "''") + "'"


def _number(text: str) -> str:
    return f"({text})" if text.startswith("-") else text


def quote_literal(value: Any) -> str:
    """One Python value as an SQL literal (see the module docstring); `ConfigError` if not
    representable."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return _number(str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"an SQL number must be finite, not {value!r}")
        return _number(repr(value))
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ConfigError(f"an SQL number must be finite, not {value!r}")
        return _number(str(value))
    if isinstance(value, str):
        return _quote_str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return _quote_str(value.isoformat())
    if isinstance(value, (list, tuple)):
        if not value:
            raise ConfigError("an empty list cannot be bound: PostgreSQL cannot type ARRAY[]")
        if any(isinstance(v, (list, tuple)) for v in value):
            raise ConfigError("nested lists cannot be bound")
        return "ARRAY[" + ", ".join(quote_literal(v) for v in value) + "]"
    raise ConfigError(f"cannot bind a value of type {type(value).__name__} into SQL")


def bind_params(sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> str:
    """``sql`` with its ``%s`` / ``%(name)s`` placeholders replaced by quoted literals.

    A sequence must match the ``%s`` count exactly; a mapping must hold every name used
    (extra keys are allowed). Mixing styles, a stray ``%`` or a bad value raise `ConfigError`.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise ConfigError("sql is empty")
    if "\x00" in sql:
        raise ConfigError("sql must not contain a NUL character")
    named = isinstance(params, Mapping)
    if not named and isinstance(params, (str, bytes)):
        raise ConfigError("params must be a sequence or a mapping, not a string")
    out: list[str] = []
    used = 0
    for piece in split_template(sql):
        if isinstance(piece, str):
            out.append(piece)
        elif piece.name is None:
            if named:
                raise ConfigError("%s placeholder used with a mapping of params")
            seq: Sequence[Any] = params  # type: ignore[assignment]
            if used >= len(seq):
                raise ConfigError(f"the SQL has more %s placeholders than the {len(seq)} params")
            out.append(quote_literal(seq[used]))
            used += 1
        else:
            if not named:
                raise ConfigError("%(name)s placeholder used with a sequence of params")
            mapping: Mapping[str, Any] = params  # type: ignore[assignment]
            if piece.name not in mapping:
                raise ConfigError(f"no param named {piece.name!r}")
            out.append(quote_literal(mapping[piece.name]))
    if not named and used != len(params):
        raise ConfigError(f"{len(params)} params given for {used} %s placeholder(s)")
    return "".join(out)
