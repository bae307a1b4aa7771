"""Bitable (Base) tables, fields and records, and the typed search filter, as Lark sends them.

Record ``fields`` stay ``dict[str, Any]``: a value's shape depends on the field's type (text,
number, select, user, link, ...; lark-api-reference.md §6). The search filter builders check
the operator against Lark's list and raise `ConfigError` before any request.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lark_service.domain.errors import ConfigError
from lark_service.domain.models.common import Page

# Operators of records/search conditions (DOC bitable-v1/app-table-record/search; the
# reference marks the list UNCONFIRMED, so only these are accepted client-side).
FILTER_OPERATORS = frozenset(
    {
        "is",
        "isNot",
        "contains",
        "doesNotContain",
        "isEmpty",
        "isNotEmpty",
        "isGreater",
        "isGreaterEqual",
        "isLess",
        "isLessEqual",
    }
)
# Operators that take no value.
VALUELESS_OPERATORS = frozenset({"isEmpty", "isNotEmpty"})
CONJUNCTIONS = frozenset({"and", "or"})
USER_ID_TYPES = frozenset({"open_id", "union_id", "user_id"})


class BitableTable(msgspec.Struct, kw_only=True):
    """A data table of a Base app (``tbl…``)."""

    table_id: str
    name: str = ""
    revision: int = 0


class BitableField(msgspec.Struct, kw_only=True):
    """A field (column); ``type`` is Lark's field type code (1 text, 2 number, ...)."""

    field_id: str = ""
    field_name: str = ""
    type: int = 0
    property: dict[str, Any] | None = None
    is_primary: bool = False
    ui_type: str = ""
    is_hidden: bool = False


class BitablePerson(msgspec.Struct, kw_only=True):
    """``created_by`` / ``last_modified_by`` of a record (with ``automatic_fields``)."""

    id: str = ""
    name: str = ""
    en_name: str = ""
    email: str = ""
    avatar_url: str = ""


class BitableRecord(msgspec.Struct, kw_only=True):
    """A record (row, ``rec…``); times are epoch milliseconds."""

    record_id: str = ""
    fields: dict[str, Any] = {}
    created_by: BitablePerson | None = None
    created_time: int = 0
    last_modified_by: BitablePerson | None = None
    last_modified_time: int = 0
    shared_url: str = ""
    record_url: str = ""


class RecordPage(Page[BitableRecord], kw_only=True):
    """One page of records; ``total`` is Lark's count of matching records."""

    total: int = 0


class DeletedRecord(msgspec.Struct, kw_only=True):
    record_id: str = ""
    deleted: bool = False


class BatchGetResult(msgspec.Struct, kw_only=True):
    """``records/batch_get``: the records found, and the ids Lark could not return."""

    records: list[BitableRecord] = []
    forbidden_record_ids: list[str] = []
    absent_record_ids: list[str] = []


def _values(values: tuple[Any, ...]) -> list[str]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise ConfigError(f"a condition value must be a str or a number, not {v!r}")
        out.append(v if isinstance(v, str) else repr(v) if isinstance(v, float) else str(v))
    return out


class Condition(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One condition ``{field_name, operator, value: [str]}``; build with `Condition.of`."""

    field_name: str
    operator: str
    value: list[str] | None = None

    def __post_init__(self) -> None:
        if not self.field_name:
            raise ConfigError("a condition needs a field_name")
        if self.operator not in FILTER_OPERATORS:
            raise ConfigError(
                f"operator must be one of {sorted(FILTER_OPERATORS)}, not {self.operator!r}"
            )
        if self.operator in VALUELESS_OPERATORS:
            if self.value:
                raise ConfigError(f"operator {self.operator!r} takes no value")
        elif not self.value:
            raise ConfigError(f"operator {self.operator!r} needs a value")

    @classmethod
    def of(cls, field_name: str, operator: str, *values: str | int | float) -> Condition:
        """``Condition.of("Age", "isGreater", 30)``: numbers are sent as strings."""
        return cls(field_name=field_name, operator=operator, value=_values(values) or None)


class Filter(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``{conjunction, conditions, children}``; build with `Filter.all` / `Filter.any`."""

    conjunction: str  # required by Lark, so never omitted
    conditions: list[Condition] = []
    children: list[Filter] = []

    def __post_init__(self) -> None:
        if self.conjunction not in CONJUNCTIONS:
            raise ConfigError(f"conjunction must be 'and' or 'or', not {self.conjunction!r}")

    @classmethod
    def all(cls, *conditions: Condition, children: tuple[Filter, ...] = ()) -> Filter:
        """Every condition (and child filter) must hold."""
        return cls(conjunction="and", conditions=list(conditions), children=list(children))

    @classmethod
    def any(cls, *conditions: Condition, children: tuple[Filter, ...] = ()) -> Filter:
        """At least one condition (or child filter) must hold."""
        return cls(conjunction="or", conditions=list(conditions), children=list(children))


class Sort(msgspec.Struct, kw_only=True):
    """``{field_name, desc}``."""

    field_name: str
    desc: bool = False


def filter_from_dict(value: Filter | dict[str, Any]) -> Filter:
    """A `Filter` from Lark's JSON shape, validated like the builders (`ConfigError`)."""
    if isinstance(value, Filter):
        return value
    try:
        return msgspec.convert(value, Filter)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"bad search filter: {exc}") from None
