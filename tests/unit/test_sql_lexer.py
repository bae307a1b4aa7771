"""The SQL template lexer reads templates as PostgreSQL does (issue 8 item 11): nested
comments, dollar quotes, escape strings and their continuations; and against a real
PostgreSQL, no bound value ever becomes SQL."""

from __future__ import annotations

from typing import TypeVar

import pytest

from lark_service.application.sql_lexer import Placeholder, split_template
from lark_service.application.sql_quote import bind_params
from lark_service.domain.errors import ConfigError

T = TypeVar("T")

# -- where placeholders are (pure) ---------------------------------------------------------


def _placeholders(sql: str) -> list[Placeholder]:
    return [p for p in split_template(sql) if isinstance(p, Placeholder)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 /* outer /* inner */ %s */ AS a",
        "SELECT 1 /* /* /* */ */ %s */ AS a",
        "SELECT 1 /*/ %s */ AS a",  # '/*/' opens a comment; its '*/' does not close it
        "SELECT a$$x$$ FROM t WHERE b = $x$ %s $x$",  # '$' inside a name opens nothing
        "SELECT $é$ %s $é$",  # non-ASCII dollar tag
        "SELECT $a$ $b$ %s $b$ $a$",
        "SELECT E'a'\n'\\' , %s --'",  # an escape string continued on the next line
        "SELECT E'a' -- note\n  '\\' , %s '",
        "SELECT 'it''s %s'",
        "SELECT U&'%s'",
        "SELECT B'%s'",
        'SELECT 1 AS "%s"',
        'SELECT 1 AS U&"%s"',
        "SELECT 1 */* %s */",  # '/*' inside an operator starts a comment
        "SELECT 1 +-- %s",
    ],
)
def test_placeholders_where_postgresql_reads_no_code_are_not_placeholders(sql: str) -> None:
    assert _placeholders(sql) == []
    with pytest.raises(ConfigError, match="1 params given for 0"):
        bind_params(sql, ["*/ , 2 AS injected --"])


@pytest.mark.parametrize(
    ("sql", "bound"),
    [
        ("SELECT 1 /* a /* b */ c */ , %s", "SELECT 1 /* a /* b */ c */ , 'v'"),
        ("SELECT 1 -- comment\r, %s", "SELECT 1 -- comment\r, 'v'"),  # \r ends a comment
        ("SELECT E'\\\\' , %s", "SELECT E'\\\\' , 'v'"),
        ("SELECT E'\\'' , %s", "SELECT E'\\'' , 'v'"),
        ("SELECT 'a'\n'b' , %s", "SELECT 'a'\n'b' , 'v'"),
        ("SELECT E'a' /* c */\n'\\' , %s", None),  # a /* */ comment stops the continuation
        ("SELECT $a$ x $a$ , %s", "SELECT $a$ x $a$ , 'v'"),
        ("SELECT $1 , %s", "SELECT $1 , 'v'"),
        ("SELECT x$y , %s", "SELECT x$y , 'v'"),
        ("SELECT 1e5 , %s", "SELECT 1e5 , 'v'"),
        ("SELECT 2 */**/ %s", "SELECT 2 */**/ 'v'"),
        ("SELECT 50 %% %s", "SELECT 50 % 'v'"),
    ],
)
def test_placeholders_in_code_are_bound(sql: str, bound: str | None) -> None:
    if bound is None:  # the '\' string is standard after the comment: refused, see below
        with pytest.raises(ConfigError, match="standard_conforming_strings"):
            bind_params(sql, ["v"])
        return
    assert bind_params(sql, ["v"]) == bound


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT 1 /* /* */", "unterminated /"),
        ("SELECT $a$ x $b$", "unterminated dollar"),
        ("SELECT 'x", "unterminated string"),
        ("SELECT E'x\\'", "unterminated string"),
        ('SELECT "x', "unterminated"),
        ("SELECT '\\' , %s --'", "standard_conforming_strings"),
        ("SELECT N'\\' , %s --'", "standard_conforming_strings"),
        ("SELECT 1\v, %s", "vertical tab"),
        ("SELECT 1e'\\' , %s --'", "number glued"),
        ("SELECT 1$$ %s $$", "number glued"),
        ("SELECT $1'x'", "number glued"),
        ("SELECT col%s", "touches"),
        ("SELECT %sx", "touches"),
        ("SELECT %s%s", "touches"),
        ('SELECT 1 AS "a"%s', "touches"),
        ("SELECT %s'x'", "touches"),
        ("SELECT %s$$x$$", "touches"),
        ("SELECT .%s", "touches"),
        ("SELECT %s\n'\\' , %s --'", "joined"),
        ("SELECT %s -- c\n'x'", "joined"),
        ("SELECT 'x'\n%s", "joined"),
        ("SELECT 50 % 2", "stray"),
    ],
)
def test_ambiguous_or_broken_templates_are_refused(sql: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        bind_params(sql, ["v", "w"])


def test_backslashes_are_fine_where_every_setting_reads_them_alike() -> None:
    sql = "SELECT U&'d\\0061t', B'\\', X'\\', E'\\\\', $$\\$$, \"\\\" , %s"
    assert bind_params(sql, ["v"]).endswith(", 'v'")


def test_named_placeholders_follow_the_same_rules() -> None:
    assert bind_params("SELECT %(a)s /* %(b)s /* */ %(b)s */", {"a": 1}) == (
        "SELECT 1 /* %(b)s /* */ %(b)s */"
    )
    with pytest.raises(ConfigError, match="touches"):
        bind_params("SELECT x%(a)s", {"a": 1})


# -- against a real PostgreSQL ---------------------------------------------------------------
