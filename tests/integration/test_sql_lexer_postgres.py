"""The SQL template lexer against a real PostgreSQL: no value ever becomes SQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lark_service.application.sql_lexer import Placeholder, split_template
from lark_service.application.sql_quote import bind_params
from lark_service.domain.errors import ConfigError

T = TypeVar("T")

# -- where placeholders are (pure) ---------------------------------------------------------


def _placeholders(sql: str) -> list[Placeholder]:
    return [p for p in split_template(sql) if isinstance(p, Placeholder)]


PG_ADMIN_DSN = os.environ.get(
    "LARK_SERVICE_TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
).replace("postgresql+asyncpg://", "postgresql://")


class Postgres:
    """One connection to a scratch database, driven from synchronous (hypothesis) tests."""

    def __init__(self, runner: asyncio.Runner, conn: asyncpg.Connection) -> None:
        self._runner = runner
        self.conn = conn

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def fetch(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        async def go() -> list[tuple[Any, ...]]:
            rows = await self.conn.fetch(sql, *args, timeout=10)
            return [tuple(r.keys()) + tuple(r.values()) for r in rows]

        return self.run(go())


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    database = "lark_sqllex_" + uuid.uuid4().hex[:12]
    with asyncio.Runner() as runner:
        try:
            admin = runner.run(asyncpg.connect(PG_ADMIN_DSN, timeout=5))
        except (OSError, asyncpg.PostgresError) as exc:
            pytest.skip(f"PostgreSQL not reachable: {exc}")
        try:
            runner.run(admin.execute(f'CREATE DATABASE "{database}"'))
            dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + database
            # no statement cache: a statement prepared under one standard_conforming_strings
            # would be reused, as parsed then, under the other
            conn = runner.run(
                asyncpg.connect(dsn, timeout=5, command_timeout=10, statement_cache_size=0)
            )
            try:
                runner.run(conn.execute("SET statement_timeout = '5s'"))
                yield Postgres(runner, conn)
            finally:
                runner.run(conn.close(timeout=5))
        finally:
            runner.run(admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            runner.run(admin.close(timeout=5))


@pytest.mark.integration
@pytest.mark.parametrize(
    ("sql", "value"),
    [
        ("SELECT 1 AS a /* outer /* inner */ %s */", "*/ , 42 AS injected --"),
        ("SELECT 1 AS a$$x$$, $x$ %s $x$ AS b -- $x$", "$x$ , 42 AS injected --"),
        ("SELECT E'a'\n'\\' , %s --' AS a", ", 42 AS injected --"),
    ],
)
def test_real_postgresql_reads_these_placeholders_as_data_too(
    postgres: Postgres, sql: str, value: str
) -> None:
    # Where the old lexer bound the value (PostgreSQL reads a comment or a string there),
    # the value becomes a column at PostgreSQL; the lexer now finds no placeholder there.
    pasted = sql.replace("%s", "'" + value.replace("'", "''") + "'", 1)
    assert any("injected" in row for row in postgres.fetch(pasted))
    assert _placeholders(sql) == []
    with pytest.raises(ConfigError):
        bind_params(sql, [value])
    assert not any("injected" in row for row in postgres.fetch(sql))


# Templates built from the pieces that make lexers disagree, with values built the same way:
# whatever bind_params accepts must mean at PostgreSQL what the same template with server-side
# parameters ($1, $2, ...) means, under both settings of standard_conforming_strings.
_TRICKY = [
    "%s", "%%", "'", "''", "\\", "\\'", "*/", "/*", "/*/", "--", "\n", "\r", " ", "\t",
    "$$", "$a$", "$b$", "a$", '"', "e", "E'", "U&'", "x", "-", "*", "/", ",", "1", "é", ";",
]  # fmt: skip
_body = st.lists(st.sampled_from(_TRICKY), max_size=8).map("".join)
_gap = st.one_of(
    st.sampled_from(["", " ", "\n", " -- c\n"]),
    _body.map(lambda b: f"/*{b}*/"),
    st.tuples(_body, _body).map(lambda bs: f"/* /*{bs[0]}*/{bs[1]}*/"),
    _body.map(lambda b: "--" + b.replace("\n", " ").replace("\r", " ") + "\n"),
)
_expr = st.one_of(
    st.just("%s"),
    st.just("1"),
    _body.map(lambda b: f"'{b}'"),
    _body.map(lambda b: f"E'{b}'"),
    st.tuples(_body, _body).map(lambda bs: f"E'{bs[0]}'\n'{bs[1]}'"),
    _body.map(lambda b: f"$a${b}$a$"),
    _body.map(lambda b: f"$${b}$$"),
)
_item = st.tuples(_gap, _expr, _gap, st.one_of(st.just(""), _body.map(lambda b: f' AS "{b}"')))
_template = st.lists(_item.map(lambda t: " ".join(t)), min_size=1, max_size=4).map(
    lambda items: "SELECT " + ", ".join(items)
)
_value = st.one_of(
    _body,
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12),
)


def _with_server_parameters(sql: str, count: int) -> str:
    """``sql`` with its placeholders as ``$1, $2, ...``, found by binding unique markers (so
    the check does not trust the lexer under test to say where the placeholders are)."""
    tag = uuid.uuid4().hex
    markers = [f"marker{k}x{tag}" for k in range(count)]
    numbered = bind_params(sql, markers)
    for k, marker in enumerate(markers, start=1):
        numbered = numbered.replace(f"'{marker}'", f"${k}")
    return numbered


def _outcome(postgres: Postgres, sql: str, args: Sequence[str] = ()) -> list[Any] | None:
    try:
        return postgres.fetch(sql, *args)
    except (asyncpg.PostgresError, asyncpg.InterfaceError):
        return None


@pytest.mark.integration
@pytest.mark.parametrize("conforming", ["on", "off"])
def test_no_value_becomes_sql_at_real_postgresql(postgres: Postgres, conforming: str) -> None:
    postgres.run(postgres.conn.execute(f"SET standard_conforming_strings = {conforming}"))
    postgres.run(postgres.conn.execute("SET escape_string_warning = off"))
    seen = {"bound": 0, "ran": 0}

    @settings(
        max_examples=250,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(template=_template, values=st.lists(_value, min_size=4, max_size=4))
    def check(template: str, values: list[str]) -> None:
        try:
            count = len(_placeholders(template))
            bound = bind_params(template, values[:count])
        except ConfigError:
            return
        seen["bound"] += 1
        with_values = _outcome(postgres, bound)
        if with_values is None:
            return
        seen["ran"] += 1
        # the same template with the values kept out of the SQL text entirely
        parametrized = _with_server_parameters(template, count)
        assert with_values == _outcome(postgres, parametrized, values[:count])

    try:
        check()
    finally:
        postgres.run(postgres.conn.execute("RESET standard_conforming_strings"))
    print(f"\nstandard_conforming_strings={conforming}: {seen}")
    assert seen["ran"] >= 30  # the generator reaches PostgreSQL often enough to mean something
