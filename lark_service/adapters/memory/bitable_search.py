"""Search evaluation of `InMemoryBitable`: the typed `Filter` and the `Sort` list.

Number fields (type 2) compare numerically, others as text; an unknown field name raises
`BadRequestError` 1254045 like Lark.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lark_service.domain.errors import BadRequestError
from lark_service.domain.models.bitable import BitableField, BitableRecord, Filter, Sort


def sort_records(
    fields: dict[str, BitableField], recs: list[BitableRecord], sort: Sequence[Sort]
) -> list[BitableRecord]:
    """``recs`` sorted by each `Sort` (stable, last key first; empty values first)."""
    for spec in reversed(sort):
        field = fields.get(spec.field_name)
        if field is None:
            raise BadRequestError(f"FieldNameNotFound: {spec.field_name}", code=1254045)
        have = [r for r in recs if r.fields.get(spec.field_name) is not None]
        none = [r for r in recs if r.fields.get(spec.field_name) is None]
        have.sort(key=lambda r: _key(field, r.fields[spec.field_name]), reverse=spec.desc)
        recs = none + have
    return recs


def _key(field: BitableField, value: Any) -> Any:
    return float(value) if field.type == 2 else str(value)


def holds(fields: dict[str, BitableField], flt: Filter, values: dict[str, Any]) -> bool:
    results = []
    for cond in flt.conditions:
        field = fields.get(cond.field_name)
        if field is None:
            raise BadRequestError(f"FieldNameNotFound: {cond.field_name}", code=1254045)
        value = values.get(cond.field_name)
        empty = value is None or value == "" or value == []
        op, wanted = cond.operator, (cond.value or [""])[0]
        if op in ("isEmpty", "isNotEmpty"):
            ok = empty == (op == "isEmpty")
        elif op in ("contains", "doesNotContain"):
            found = not empty and any(w in str(value) for w in cond.value or [])
            ok = found == (op == "contains")
        elif op in ("is", "isNot"):
            ok = (not empty and _key(field, value) == _key(field, wanted)) == (op == "is")
        else:
            ok = not empty and _compare(op, _key(field, value), _key(field, wanted))
        results.append(ok)
    results.extend(holds(fields, child, values) for child in flt.children)
    if flt.conjunction == "or":
        return any(results) if results else True
    return all(results)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "isGreater":
        return bool(a > b)
    if op == "isGreaterEqual":
        return bool(a >= b)
    if op == "isLess":
        return bool(a < b)
    return bool(a <= b)
