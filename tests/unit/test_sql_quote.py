"""lark_service.application.sql_quote: literals, identifiers and placeholder binding against injection."""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3

import pytest

from lark_service.application.sql_quote import bind_params, quote_identifier, quote_literal
from lark_service.domain.errors import ConfigError
from lark_service.testing.fake_lark.apaas import split_sql

PAYLOADS = [
    "plain",
    "O'Brien",
    "'; DROP TABLE x; --",
    "''",
    "'",
    "\\",
    "\\'; DROP TABLE x; --",
    "a\\\\'b",
    "ʼ’‘＇ unicode quotes",
    "-- comment",
    "/* comment */",
    "*/ closes",
    "%s %(name)s %% placeholders",
    "$$ dollar $tag$",
    '"double" quotes',
    "line\nbreak\ttab",
    "emoji 😀",
    "",
]


@pytest.mark.parametrize("value", PAYLOADS)
def test_string_literal_round_trips_as_one_literal(value: str) -> None:
    sql = bind_params("SELECT %s AS v", [value])
    statements, literals = split_sql(sql)
    assert len(statements) == 1 and literals == [value]
    db = sqlite3.connect(":memory:")
    assert db.execute(statements[0]).fetchone() == (value,)  # decoded by a real SQL engine


def test_backslash_uses_escape_string_only_when_needed() -> None:
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal("a\\b") == "E'a\\\\b'"
    assert quote_literal("\\'") == "E'\\\\'''"


def test_scalars() -> None:
    assert quote_literal(None) == "NULL"
    assert quote_literal(True) == "TRUE" and quote_literal(False) == "FALSE"
    assert quote_literal(42) == "42" and quote_literal(-1) == "(-1)"
    assert quote_literal(1.5) == "1.5" and quote_literal(-2.5e-7) == "(-2.5e-07)"
    assert quote_literal(decimal.Decimal("-1.10")) == "(-1.10)"
    assert quote_literal(dt.date(2024, 1, 2)) == "'2024-01-02'"
    stamp = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert quote_literal(stamp) == "'2024-01-02T03:04:05+00:00'"
    assert quote_literal(["a'b", 1, None]) == "ARRAY['a''b', 1, NULL]"


def test_negative_number_cannot_become_a_comment() -> None:
    sql = bind_params("SELECT 1-%s", [-1])
    assert sql == "SELECT 1-(-1)"
    assert sqlite3.connect(":memory:").execute(sql).fetchone() == (2,)


@pytest.mark.parametrize(
    "bad",
    [float("nan"), float("inf"), decimal.Decimal("NaN"), "nul\x00", b"bytes", object(), [], [[1]]],
)
def test_unrepresentable_values_rejected(bad: object) -> None:
    with pytest.raises(ConfigError):
        quote_literal(bad)


def test_lone_surrogate_rejected() -> None:
    with pytest.raises(ConfigError):
        quote_literal("\ud800")


def test_identifiers() -> None:
    assert quote_identifier("people") == '"people"'
    assert quote_identifier('we"ird') == '"we""ird"'
    for bad in ("", "a\x00b"):
        with pytest.raises(ConfigError):
            quote_identifier(bad)
    evil = 'x"; DROP TABLE t; --'
    sql = "SELECT 1 AS " + quote_identifier(evil)
    assert len(split_sql(sql)[0]) == 1


def test_placeholders_inside_values_are_not_resubstituted() -> None:
    sql = bind_params("SELECT %s, %s", ["%s", "%(n)s"])
    assert sql == "SELECT '%s', '%(n)s'"
    sql = bind_params("SELECT %(a)s, %(b)s, %(a)s", {"a": "%(b)s", "b": "x", "unused": 1})
    assert sql == "SELECT '%(b)s', 'x', '%(b)s'"


def test_placeholders_in_template_literals_and_comments_are_left_alone() -> None:
    sql = bind_params("SELECT '%s', E'\\'%s', \"%s\", $$%s$$ -- %s\n/* %s */, %s, 5 %% 2", ["v"])
    assert sql.endswith("/* %s */, 'v', 5 % 2")
    assert "'%s'" in sql and '"%s"' in sql


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT %s", []),
        ("SELECT 1", [1]),
        ("SELECT %s, %s", [1]),
        ("SELECT %(a)s", {}),
        ("SELECT %(a)s", [1]),
        ("SELECT %s", {"a": 1}),
        ("SELECT 50%", []),
        ("SELECT 'open", []),
        ("SELECT /* open", []),
        ("", []),
        ("SELECT %s", "abc"),
        ("SELECT 1\x00", []),
    ],
)
def test_bad_templates_and_params(sql: str, params: object) -> None:
    with pytest.raises(ConfigError):
        bind_params(sql, params)  # type: ignore[arg-type]
