"""The shape of Lark's ids and the one place ids become URL path segments.

Every id a client puts into a URL path goes through `lark_path`: each placeholder of the
template is checked against the rule for its name and percent-encoded (``/``, ``?``, ``#``
and ``%`` included), so no value can change the route or add a query. The checks run
before anything is sent and raise `ConfigError` naming the argument.

Shapes (chosen; Lark documents none formally): ids Lark mints are ASCII letters, digits,
``_`` and ``-`` (``om_`` messages, ``oc_`` chats, ``ou_``/``on_`` users, drive and docx
tokens, Bitable ``tbl``/``rec`` ids); tenant-chosen ids (``user_id``, ``department_id``)
and opaque tokens may also hold ``. : @ + = ~ !``; names (aPaaS tables, sheet ranges) may
hold any printable character. No id is empty, over `ID_MAX_LEN` characters (names: 1024), a
lone ``.``/``..``, or holds whitespace or control characters.
"""

from __future__ import annotations

import functools
import re
import string
from typing import Any
from urllib.parse import quote

from lark_service.domain.errors import ConfigError

ID_MAX_LEN = 256
NAME_MAX_LEN = 1024
_LARK_ID = re.compile(r"[A-Za-z0-9_\-]+")
_OPAQUE_ID = re.compile(r"[A-Za-z0-9_\-.:@+=~!]+")
_FIELD = re.compile(r"\{([a-z_]+)\}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_MOBILE = re.compile(r"\+?[0-9]{3,20}")
# Lark's id prefixes, by argument name.
ID_PREFIXES = {"message_id": "om_", "chat_id": "oc_", "open_id": "ou_", "union_id": "on_"}
# Arguments whose value is a name a person chose rather than an id.
NAME_ARGS = frozenset({"range_", "range", "table", "table_name", "workspace_id", "sheet"})


def check_text(value: Any, name: str) -> str:
    """``value`` if a ``str`` that encodes as UTF-8 (no lone surrogates), else `ConfigError`."""
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a str, not {type(value).__name__}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"{name} holds a lone surrogate (not valid Unicode text)") from None
    return value


def check_id(value: Any, name: str, *, prefix: str | None = None) -> str:
    """``value`` if it has the shape of a Lark id (see the module doc), else `ConfigError`.

    ``prefix`` defaults to Lark's prefix for ``name`` (``message_id`` → ``om_``, ...).
    """
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a str, not {type(value).__name__}")
    if not value:
        raise ConfigError(f"{name} is empty")
    if name in NAME_ARGS:
        return check_name(value, name)
    if len(value) > ID_MAX_LEN:
        raise ConfigError(f"{name} is longer than {ID_MAX_LEN} characters")
    prefix = ID_PREFIXES.get(name) if prefix is None else prefix
    if prefix:
        if not value.startswith(prefix) or len(value) == len(prefix):
            raise ConfigError(f"{name} must start with {prefix!r} and go on; got {value[:40]!r}")
        if not _LARK_ID.fullmatch(value):
            raise ConfigError(f"{name} may hold only letters, digits, '_' and '-'")
        return value
    if not _OPAQUE_ID.fullmatch(value) or value in (".", ".."):
        raise ConfigError(
            f"{name} may hold only letters, digits and _ - . : @ + = ~ ! (no spaces or slashes)"
        )
    return value


def check_name(value: Any, name: str) -> str:
    """A person-chosen name (table, sheet range): printable, 1 to `NAME_MAX_LEN` characters."""
    text = check_text(value, name)
    if not text or len(text) > NAME_MAX_LEN:
        raise ConfigError(f"{name} must be 1 to {NAME_MAX_LEN} characters")
    if not text.isprintable() or text in (".", ".."):
        raise ConfigError(f"{name} holds a control character or is a lone '.'/'..'")
    return text


def check_email(value: Any, name: str = "email") -> str:
    """An address of the shape ``local@domain.tld`` (at most 254 characters)."""
    text = check_text(value, name)
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        raise ConfigError(f"{name} {text[:40]!r} is not an email address")
    return text


def check_mobile(value: Any, name: str = "mobile") -> str:
    """A phone number: digits with an optional leading ``+`` (3 to 20 digits)."""
    text = check_text(value, name)
    if not _MOBILE.fullmatch(text):
        raise ConfigError(f"{name} {text[:40]!r} is not a phone number (digits, optional +)")
    return text


def check_optional_id(value: Any, name: str) -> str | None:
    """``None``, or ``value`` checked by `check_id`."""
    return None if value is None else check_id(value, name)


def lark_path(template: str, **ids: str) -> str:
    """``template`` (``/open-apis/.../{message_id}/reply``) with every ``{name}`` replaced
    by ``ids[name]``, checked by `check_id` and percent-encoded as one path segment."""
    parts, fields = _template(template)
    if len(ids) != len(fields) or not fields.issuperset(ids):
        raise ConfigError(f"path {template!r} needs {sorted(fields)}, got {sorted(ids)}")
    out = []
    for literal, name in parts:
        out.append(literal)
        if name:
            value = check_id(ids[name], name)
            out.append(value if _LARK_ID.fullmatch(value) else quote(value, safe=""))
    return "".join(out)


@functools.lru_cache(maxsize=256)
def _template(template: str) -> tuple[list[tuple[str, str]], frozenset[str]]:
    """``template`` as (literal, field name) pairs, parsed once."""
    parts: list[tuple[str, str]] = []
    pos = 0
    for m in _FIELD.finditer(template):
        parts.append((template[pos : m.start()], m.group(1)))
        pos = m.end()
    parts.append((template[pos:], ""))
    return parts, frozenset(name for _, name in parts if name)


_PATH_CHARS = frozenset(string.ascii_letters + string.digits + "-._~%!$&'()*+,;=:@/")
# The shape every path `lark_path` builds has: checked by one regex match, before the
# character-by-character rules below (which then only run to refuse, or for a rare path).
_PLAIN_PATH = re.compile(r"/open-apis(?:/[A-Za-z0-9_\-]+)+")


def check_path(path: str) -> str:
    """The last guard before a path is sent: ASCII path characters only, no query or
    fragment, no dot segments. A path built by `lark_path` always passes."""
    if _PLAIN_PATH.fullmatch(path):
        return path  # letters, digits, _ and - only: no dot, no %, nothing to refuse
    if not path.startswith("/open-apis/") or not _PATH_CHARS.issuperset(path):
        raise ConfigError(f"refusing to call a malformed path {path[:80]!r}")
    if "%2e" in path.lower() or any(part in (".", "..") for part in path.split("/")):
        raise ConfigError(f"refusing to call a path with a dot segment {path[:80]!r}")
    return path
