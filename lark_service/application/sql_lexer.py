"""Reading an SQL template the way PostgreSQL's lexer reads it, to find its placeholders.

A value bound into a template stays data only if its placeholder sits where PostgreSQL reads
code: a placeholder that PostgreSQL would read inside a comment or a string lets a value that
closes the comment or string become SQL. So the template is lexed with PostgreSQL's own rules
(``src/backend/parser/scan.l``, version 15), and placeholders are recognised only in code:

- ``--`` comments run to the end of the line (``\\n`` or ``\\r``); ``/* */`` comments nest,
  and ``/*`` or ``--`` start a comment even in the middle of an operator (``*/*``);
- ``'…'`` strings (``''`` is a quote); ``E'…'`` escape strings (a backslash escapes the next
  character, ``\\'`` included); ``B'…'``, ``X'…'``, ``N'…'`` and ``U&'…'`` end like ``'…'``;
  a string followed by whitespace holding a newline (and ``--`` comments) and another ``'``
  continues, in the same mode (an escape string stays one);
- ``"…"`` and ``U&"…"`` quoted identifiers (``""`` is a quote);
- ``$tag$…$tag$`` dollar quotes (a tag is a letter, ``_`` or non-ASCII character, then those
  and digits) end at the first ``$tag$``;
- identifiers run over letters, digits, ``_``, ``$`` and non-ASCII characters, so ``a$b$``
  is a name, not a dollar quote; the prefixes ``E'`` ``B'`` ``X'`` ``N'`` ``U&'`` count only
  at the start of a word.

Refused with `ConfigError`, because PostgreSQL's reading depends on a setting or a version:

- a backslash in a ``'…'`` or ``N'…'`` string (with ``standard_conforming_strings=off`` it
  escapes the next character): write ``E'…\\\\…'``;
- a vertical tab outside literals and comments (whitespace only since PostgreSQL 16);
- a number or ``$n`` glued to a quote or ``$`` (``1e'…'`` was an escape string before 15).

Refused because the bound value would not stay one literal: a placeholder touching a letter,
digit, ``_``, ``$``, ``.`` or quote (``col%s``, ``%s'x'``), and a placeholder joined to a
string literal across a newline (PostgreSQL concatenates ``'a'`` newline ``'b'``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from lark_service.domain.errors import ConfigError

__all__ = ["Placeholder", "split_template"]

_WHITESPACE = " \t\n\r\f"
_NEWLINES = "\n\r"
_WORD = r"(?:[A-Za-z_]|[^\x00-\x7f])"
_DOLLAR_DELIMITER = re.compile(rf"\$(?:{_WORD}(?:{_WORD}|[0-9])*)?\$")
# How a string reads a backslash: it escapes the next character (E''), it means whatever
# standard_conforming_strings says ('' and N''), or it is a plain character (B'', X'', and U&''
# which PostgreSQL refuses outright when standard_conforming_strings is off).
_ESCAPE, _PLAIN, _RAW = "escape", "plain", "raw"
_NAME = re.compile(r"%\(([A-Za-z_][A-Za-z0-9_]*)\)s")


class Placeholder(NamedTuple):
    """``%s`` (``name`` is ``None``) or ``%(name)s`` at ``offset`` in the template."""

    name: str | None
    offset: int


def split_template(sql: str) -> list[str | Placeholder]:
    """The template as SQL text (``%%`` already turned into ``%``) and placeholders, in order.

    Raises `ConfigError` for an unterminated literal or comment, a stray ``%`` and the
    constructs the module docstring lists."""
    return _Lexer(sql).run()


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _starts_word(ch: str) -> bool:
    return (ch.isalpha() or ch == "_") if ch.isascii() else True


def _continues_word(ch: str) -> bool:
    return _starts_word(ch) or _is_digit(ch) or ch == "$"


def _glues(ch: str) -> bool:
    """Whether ``ch`` next to a literal would merge with it into another token."""
    return _continues_word(ch) or ch in ".'\""


class _Lexer:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.pieces: list[str | Placeholder] = []
        self.text: list[str] = []
        self.done = 0  # sql[:done] is in pieces or text
        self.string_end = -1  # where the last string literal ended

    def run(self) -> list[str | Placeholder]:
        sql, n, i = self.sql, len(self.sql), 0
        while i < n:
            ch, nxt = sql[i], sql[i + 1 : i + 2]
            if ch == "%":
                i = self._percent(i)
            elif ch in _WHITESPACE:
                i += 1
            elif ch == "\v":
                raise ConfigError(
                    f"vertical tab at offset {i} in the SQL template: PostgreSQL versions "
                    "disagree on it; use a space"
                )
            elif ch == "-" and nxt == "-":
                i = self._line_end(i)
            elif ch == "/" and nxt == "*":
                i = self._comment_end(i)
            elif ch == "'":
                i = self._string(i, _PLAIN)
            elif ch == '"':
                i = self._quoted_identifier(i)
            elif ch == "$":
                i = self._dollar(i)
            elif _is_digit(ch) or (ch == "." and _is_digit(nxt)):
                i = self._number(i)
            elif _starts_word(ch):
                i = self._word(i)
            else:
                i += 1
        self.text.append(sql[self.done :])
        self._flush()
        return self.pieces

    # code -----------------------------------------------------------------------------
    def _word(self, i: int) -> int:
        sql = self.sql
        ch, nxt, third = sql[i], sql[i + 1 : i + 2], sql[i + 2 : i + 3]
        if nxt == "'" and ch in "eE":
            return self._string(i + 1, _ESCAPE)
        if nxt == "'" and ch in "nN":
            return self._string(i + 1, _PLAIN)
        if nxt == "'" and ch in "bBxX":
            return self._string(i + 1, _RAW)
        if ch in "uU" and nxt == "&" and third == "'":
            return self._string(i + 2, _RAW)
        if ch in "uU" and nxt == "&" and third == '"':
            return self._quoted_identifier(i + 2)
        j = i + 1
        while j < len(sql) and _continues_word(sql[j]):
            j += 1
        return j

    def _number(self, i: int) -> int:
        """Past a number (or the digits of ``$n``) and anything glued to it; PostgreSQL
        versions split such a run differently, but never into a quote or comment."""
        sql, j = self.sql, i
        while j < len(sql):
            ch = sql[j]
            exponent_sign = ch in "+-" and sql[j - 1] in "eE" and _is_digit(sql[j + 1 : j + 2])
            if not (exponent_sign or ch == "." or (_continues_word(ch) and ch != "$")):
                break
            j += 1
        if sql[j : j + 1] in ("'", '"', "$"):
            raise ConfigError(
                f"a number glued to {sql[j]!r} at offset {j} in the SQL template: "
                "put a space between them"
            )
        return j

    def _dollar(self, i: int) -> int:
        sql = self.sql
        m = _DOLLAR_DELIMITER.match(sql, i)
        if m is not None:
            end = sql.find(m.group(0), m.end())
            if end < 0:
                raise ConfigError(f"unterminated dollar-quoted string at offset {i} in the SQL")
            return end + len(m.group(0))
        if _is_digit(sql[i + 1 : i + 2]):
            return self._number(i + 1)  # a $n parameter
        return i + 1

    def _percent(self, i: int) -> int:
        sql = self.sql
        if sql.startswith("%%", i):
            self.text.append(sql[self.done : i + 1])
            self.done = i + 2
            return i + 2
        if sql.startswith("%s", i):
            end, name = i + 2, None
        else:
            m = _NAME.match(sql, i)
            if m is None:
                raise ConfigError(f"stray % at offset {i} in the SQL template (write %% for %)")
            end, name = m.end(), m.group(1)
        self._check_placeholder(i, end)
        self.text.append(sql[self.done : i])
        self._flush()
        self.pieces.append(Placeholder(name, i))
        self.done = end
        return end

    def _check_placeholder(self, start: int, end: int) -> None:
        sql = self.sql
        for at in (start - 1, end):
            if 0 <= at < len(sql) and _glues(sql[at]):
                raise ConfigError(
                    f"the placeholder at offset {start} touches {sql[at]!r}: put a space "
                    "between them so the value stays one literal"
                )
        after, newline = self._gap(end)
        joined_after = newline and sql[after : after + 1] == "'"
        joined_before = self.string_end >= 0 and self._gap(self.string_end) == (start, True)
        if joined_after or joined_before:
            raise ConfigError(
                f"the placeholder at offset {start} is joined to a string literal across a "
                "newline (PostgreSQL concatenates them): put a comma or an operator between"
            )

    def _flush(self) -> None:
        if self.text:
            joined = "".join(self.text)
            if joined:
                self.pieces.append(joined)
            self.text.clear()

    # comments and literals --------------------------------------------------------------
    def _line_end(self, i: int) -> int:
        j = i + 2
        while j < len(self.sql) and self.sql[j] not in _NEWLINES:
            j += 1
        return j

    def _comment_end(self, i: int) -> int:
        sql, depth, j = self.sql, 1, i + 2
        while j < len(sql):
            if sql.startswith("*/", j):
                depth -= 1
                j += 2
                if depth == 0:
                    return j
            elif sql.startswith("/*", j):
                depth += 1
                j += 2
            else:
                j += 1
        raise ConfigError(f"unterminated /* comment at offset {i} in the SQL template")

    def _gap(self, i: int) -> tuple[int, bool]:
        """Past whitespace and ``--`` comments from ``i``, and whether they hold a newline."""
        sql, j, newline = self.sql, i, False
        while j < len(sql):
            if sql[j] in _WHITESPACE:
                newline = newline or sql[j] in _NEWLINES
                j += 1
            elif sql.startswith("--", j):
                j = self._line_end(j)
            else:
                break
        return j, newline

    def _string(self, quote: int, mode: str) -> int:
        """Past the string whose opening quote is at ``quote`` (and its continuations)."""
        sql, j = self.sql, quote + 1
        while j < len(sql):
            ch = sql[j]
            if ch == "\\" and mode != _RAW:
                if mode == _PLAIN:
                    raise ConfigError(
                        f"backslash at offset {j} in a '…' string of the SQL template: its "
                        "meaning depends on standard_conforming_strings; write E'…' with \\\\"
                    )
                j += 2
            elif ch != "'":
                j += 1
            elif sql[j + 1 : j + 2] == "'":
                j += 2
            else:
                after, newline = self._gap(j + 1)
                if not (newline and sql[after : after + 1] == "'"):
                    self.string_end = j + 1
                    return j + 1
                j = after + 1
        raise ConfigError(f"unterminated string at offset {quote} in the SQL template")

    def _quoted_identifier(self, quote: int) -> int:
        sql, j = self.sql, quote + 1
        while j < len(sql):
            if sql[j] != '"':
                j += 1
            elif sql[j + 1 : j + 2] == '"':
                j += 2
            else:
                return j + 1
        raise ConfigError(f'unterminated "-quoted identifier at offset {quote} in the SQL')
