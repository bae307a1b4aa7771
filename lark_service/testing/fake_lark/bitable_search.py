"""Search evaluation of the fake Bitable: ``records/search`` filters and sorts, projections.

Number fields (type 2) compare numerically, others as text. Bad filters answer 1254018, bad
sorts 1254016, unknown field names 1254045 (all HTTP 400).
"""

from __future__ import annotations

from typing import Any

from lark_service.testing.fake_lark.models import FakeLarkError

OPERATORS = frozenset(
    {"is", "isNot", "contains", "doesNotContain", "isEmpty", "isNotEmpty"}
    | {"isGreater", "isGreaterEqual", "isLess", "isLessEqual"}
)


def err(code: int, msg: str, status: int = 400) -> FakeLarkError:
    """Lark's error envelope for a Bitable call (HTTP 400 unless told)."""
    return FakeLarkError(status, code, msg)


def _matches(field: dict[str, Any], cond: dict[str, Any], value: Any) -> bool:
    op, wanted = cond.get("operator"), cond.get("value") or []
    if op not in OPERATORS:
        raise err(1254018, f"InvalidFilter: operator {op!r}")
    empty = value is None or value == "" or value == []
    if op in ("isEmpty", "isNotEmpty"):
        return empty if op == "isEmpty" else not empty
    if not wanted or not all(isinstance(w, str) for w in wanted):
        raise err(1254018, "InvalidFilter: value must be a list of strings")
    if op in ("contains", "doesNotContain"):
        found = not empty and any(w in str(value) for w in wanted)
        return found if op == "contains" else not found
    numeric = field["type"] == 2
    try:
        target: Any = float(wanted[0]) if numeric else wanted[0]
    except ValueError:
        raise err(1254018, f"InvalidFilter: {wanted[0]!r} is not a number") from None
    if op in ("is", "isNot"):
        equal = not empty and (float(value) if numeric else str(value)) == target
        return equal if op == "is" else not equal
    if empty:
        return False
    got = float(value) if numeric else str(value)
    return bool(
        {
            "isGreater": got > target,
            "isGreaterEqual": got >= target,
            "isLess": got < target,
            "isLessEqual": got <= target,
        }[op]
    )


def evaluate(table: dict[str, Any], flt: Any, fields: dict[str, Any]) -> bool:
    if not isinstance(flt, dict) or flt.get("conjunction", "and") not in ("and", "or"):
        raise err(1254018, "InvalidFilter")
    results = []
    for cond in flt.get("conditions") or []:
        field = table["fields"].get(cond.get("field_name"))
        if field is None:
            raise err(1254045, f"FieldNameNotFound: {cond.get('field_name')}")
        results.append(_matches(field, cond, fields.get(field["field_name"])))
    results.extend(evaluate(table, child, fields) for child in flt.get("children") or [])
    if flt.get("conjunction", "and") == "or":
        return any(results) if results else True
    return all(results)


def sort_records(
    table: dict[str, Any], items: list[dict[str, Any]], sort: Any
) -> list[dict[str, Any]]:
    if not isinstance(sort, list):
        raise err(1254016, "InvalidSort")
    for spec in reversed(sort):  # stable sorts, last key first
        name = spec.get("field_name") if isinstance(spec, dict) else None
        if name not in table["fields"]:
            raise err(1254045, f"FieldNameNotFound: {name}")
        numeric = table["fields"][name]["type"] == 2
        present = [r for r in items if r["fields"].get(name) is not None]
        missing = [r for r in items if r["fields"].get(name) is None]
        present.sort(
            key=lambda r: float(r["fields"][name]) if numeric else str(r["fields"][name]),
            reverse=bool(spec.get("desc")),
        )
        items = missing + present
    return items


def project(rec: dict[str, Any], names: list[str] | None, automatic: bool) -> dict[str, Any]:
    out = dict(rec)
    if names is not None:
        out["fields"] = {k: v for k, v in rec["fields"].items() if k in names}
    if not automatic:
        for key in ("created_time", "last_modified_time"):
            out.pop(key, None)
    return out
