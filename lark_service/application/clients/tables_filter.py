"""`Filter`: aPaaS workspace-table filters built from values, quoted so a value stays a value.

Lark's ``filter`` is PostgREST-like: ``col=op.value`` conditions joined by ``&``. Written by
hand, a value holding ``&``, ``,``, ``(`` or ``"`` changes the filter (``name=eq.a&b`` is two
conditions). The builders quote every string value the PostgREST way (``"..."`` with ``\\``
and ``"`` escaped), check column names, and render numbers and booleans bare::

    from lark_service.application.clients.tables_filter import eq, gt, in_

    await tables.query_records(ws, "orders", user_id=u, filter=eq("note", "a&b") & gt("qty", 3))

A `Filter` is a ``str``, so it goes wherever a filter string goes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from lark_service.domain.errors import ConfigError
from lark_service.domain.models.ids import check_text

__all__ = ["Filter", "eq", "gt", "gte", "in_", "lt", "lte", "neq", "quote_value"]

_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class Filter(str):
    """A rendered filter; ``a & b`` is both conditions."""

    __slots__ = ()

    def __and__(self, other: str) -> Filter:
        if not isinstance(other, Filter):
            raise ConfigError("combine filters built with eq(), gt(), ... (not raw strings)")
        return Filter(f"{self}&{other}")


def quote_value(value: Any) -> str:
    """One value as PostgREST writes it: strings double-quoted and escaped, numbers and
    booleans bare. ``None`` and other types are a `ConfigError`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError("a filter value must be a finite number")
        return repr(value)
    if isinstance(value, str):
        text = check_text(value, "filter value")
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ConfigError(f"a filter value must be a str, int, float or bool, not {type(value)!r}")


def _condition(column: str, op: str, rendered: str) -> Filter:
    if not isinstance(column, str) or not _COLUMN.fullmatch(column):
        raise ConfigError(f"a filter column must be a plain column name, not {column!r}")
    return Filter(f"{column}={op}.{rendered}")


def eq(column: str, value: Any) -> Filter:
    """``column`` equals ``value``."""
    return _condition(column, "eq", quote_value(value))


def neq(column: str, value: Any) -> Filter:
    """``column`` differs from ``value``."""
    return _condition(column, "neq", quote_value(value))


def gt(column: str, value: Any) -> Filter:
    """``column`` > ``value``."""
    return _condition(column, "gt", quote_value(value))


def gte(column: str, value: Any) -> Filter:
    """``column`` >= ``value``."""
    return _condition(column, "gte", quote_value(value))


def lt(column: str, value: Any) -> Filter:
    """``column`` < ``value``."""
    return _condition(column, "lt", quote_value(value))


def lte(column: str, value: Any) -> Filter:
    """``column`` <= ``value``."""
    return _condition(column, "lte", quote_value(value))


def in_(column: str, values: Iterable[Any]) -> Filter:
    """``column`` is one of ``values`` (at least one)."""
    if isinstance(values, (str, bytes)):
        raise ConfigError("in_() takes a list of values, not one string")
    rendered = [quote_value(v) for v in values]
    if not rendered:
        raise ConfigError("in_() needs at least one value")
    return _condition(column, "in", "(" + ",".join(rendered) + ")")
