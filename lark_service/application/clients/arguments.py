"""Argument checks every public client method gets, before anything is sent.

`BaseServiceClient.__init_subclass__` wraps each public ``async def`` (and async generator)
of a client class with `checked`: every argument is checked against the method's type
annotations, then by its name's shape rule (ids, ``app_id``, ``uuid``, text), and a bad one
raises `ConfigError` naming it. The checks are compiled once per method from its annotations,
so a call pays a few isinstance tests per argument.

Name rules: an argument ending in ``_id``/``_token`` (or named ``token``, ``parent``,
``member_id``...) is an id (`lark_service.domain.models.ids.check_id`); ``..._ids`` is a
sequence of them; ``app_id`` has `AppConfig`'s shape; ``uuid`` is 1 to 50 printable ASCII
characters; ``timeout`` is a positive number of seconds; every other string must be valid
Unicode (no lone surrogates).
"""

from __future__ import annotations

import collections.abc as cabc
import enum
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

from lark_service.domain.errors import ConfigError
from lark_service.domain.models import ids

Check = Callable[[Any], bool]

UUID_MAX_LEN = 50
_APP_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_UUID = re.compile(r"[\x21-\x7e]+")
# Arguments that name a Lark id although their name does not end in _id/_token.
_ID_NAMES = frozenset({"token", "parent", "parent_node", "folder_token", "block_id", "tenant_key"})
# ..._id arguments that are not ids, or are checked with their type elsewhere.
_NOT_IDS = frozenset({"receive_id", "app_id", "client_token"})
_SKIP = frozenset({"self", "cls"})


def _always(_: Any) -> bool:
    return True


def _type_check(tp: Any) -> Check:
    """A predicate for values of annotation ``tp`` (unknown or generic types accept all)."""
    if tp is Any or tp is object or isinstance(tp, typing.TypeVar):
        return _always
    if tp is None or tp is type(None):
        return lambda v: v is None
    if tp is bool:
        return lambda v: isinstance(v, bool)
    if tp is int:
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    if tp is float:
        return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    if tp is str:
        return lambda v: type(v) is str or isinstance(v, str)
    if tp is bytes:
        return lambda v: isinstance(v, (bytes, bytearray))
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union_check(args)
    if origin is typing.Literal:
        allowed = set(args)
        return lambda v: v in allowed
    if origin in (typing.Annotated,):
        return _type_check(args[0])
    if origin in (list, tuple, set, frozenset, cabc.Sequence, cabc.Iterable, cabc.Collection):
        container = origin if origin not in (cabc.Iterable, cabc.Collection) else cabc.Iterable
        item = _type_check(args[0]) if args else _always
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            item = _always  # fixed-shape tuples: the method checks their items
        return lambda v: (
            isinstance(v, container)
            and not isinstance(v, (str, bytes))
            and (
                item is _always
                or not isinstance(v, (list, tuple, set, frozenset))  # never consume an iterator
                or all(item(x) for x in v)
            )
        )
    if origin in (dict, cabc.Mapping, cabc.MutableMapping):
        return lambda v: isinstance(v, cabc.Mapping)
    if origin is not None:
        tp = origin
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            values = {m.value for m in tp}
            return lambda v: isinstance(v, tp) or (not isinstance(v, bool) and v in values)
        if getattr(tp, "_is_protocol", False) and not getattr(tp, "_is_runtime_protocol", False):
            return _always
        if tp in (cabc.Callable, type):
            return _always
        return lambda v: isinstance(v, tp)
    return _always


_SIMPLE = (str, bytes, int, float, bool, type(None))


def _union_check(args: tuple[Any, ...]) -> Check:
    if all(a in _SIMPLE for a in args):  # the common ``str | None``: one isinstance
        accepted = tuple({*args, *((int,) if float in args else ())})
        bool_ok = bool in args

        def simple(v: Any) -> bool:
            return isinstance(v, accepted) and (bool_ok or not isinstance(v, bool))

        return simple
    checks = [_type_check(a) for a in args]

    def any_of(v: Any) -> bool:
        return any(c(v) for c in checks)

    return any_of


def _id_name(name: str) -> str | None:
    """The id name whose rule checks argument ``name``, or ``None``."""
    if name in _NOT_IDS:
        return None
    if name in _ID_NAMES or name.endswith(("_id", "_token")) or name in ids.NAME_ARGS:
        return name
    return None


StrShape = Callable[[str], object]


def _check_app_id(value: str) -> None:
    if not _APP_ID.fullmatch(value):
        raise ConfigError(f"app_id must be 1 to 64 letters, digits, _ or -; got {value[:40]!r}")


def _check_uuid(value: str) -> None:
    if len(value) > UUID_MAX_LEN or not _UUID.fullmatch(value):
        raise ConfigError(f"uuid must be 1 to {UUID_MAX_LEN} printable ASCII characters")


def _str_shape(name: str) -> StrShape:
    """The shape check of a ``str`` given as argument ``name`` (chosen once per method)."""
    if name == "app_id":
        return _check_app_id
    if name == "uuid":
        return _check_uuid
    if name == "email":
        return lambda v: ids.check_email(v, name)
    if name == "mobile":
        return lambda v: ids.check_mobile(v, name)
    id_name = _id_name(name)
    if id_name is not None:
        return lambda v: ids.check_id(v, id_name)

    def text(value: str) -> None:
        if not value.isascii():  # ASCII cannot hold a lone surrogate: skip the encode
            ids.check_text(value, name)

    return text


def _value_shape(name: str) -> Callable[[Any], None]:
    """The shape check of any value given as argument ``name``."""
    one = _str_shape(name)
    items = _str_shape(name[:-1] if name.endswith("s") else name)  # user_ids → user_id

    def check(value: Any) -> None:
        if type(value) is str:
            one(value)
        elif isinstance(value, str):
            one(str(value))
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, str):
                    items(item)
        elif name == "timeout" and value is not None and not value > 0:
            raise ConfigError(f"timeout must be a positive number of seconds, not {value!r}")

    return check


def _accepts(tp: Any, kind: type) -> bool:
    """True when annotation ``tp`` takes every value of exactly type ``kind`` (str, dict)."""
    if tp is Any or tp is object or tp is kind:
        return True
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return any(_accepts(a, kind) for a in typing.get_args(tp))
    if origin is typing.Annotated:
        return _accepts(typing.get_args(tp)[0], kind)
    return kind is dict and origin in (dict, cabc.Mapping, cabc.MutableMapping)


class _Param:
    __slots__ = ("check", "name", "required", "shape", "type_name", "validate")

    def __init__(self, name: str, tp: Any, required: bool) -> None:
        self.name = name
        self.check = _type_check(tp)
        self.required = required
        self.type_name = _type_name(tp)
        self.shape = _value_shape(name)
        self.validate = self._fast_path(tp)

    def _fast_path(self, tp: Any) -> Callable[[Any], None]:
        """`_check_one` for this parameter, with the common values (a plain ``str`` of a
        ``str`` parameter, ``None`` of an optional one, a ``dict`` of a mapping one)
        decided by one type test: a burst of 1,000 calls runs these before any await."""
        str_shape = _str_shape(self.name)
        str_ok = _accepts(tp, str)
        none_ok = self.check(None)
        dict_ok = _accepts(tp, dict)

        def validate(value: Any) -> None:
            kind = type(value)
            if kind is str and str_ok:
                str_shape(value)
            elif (value is None and none_ok) or (kind is dict and dict_ok):
                return  # no shape rule applies to None or a dict (see `_value_shape`)
            else:
                _check_one(self, value)

        return validate


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # an annotation under TYPE_CHECKING: check what can be resolved
        found: dict[str, Any] = {}
        for name, ann in getattr(func, "__annotations__", {}).items():
            try:
                found[name] = eval(ann, func.__globals__) if isinstance(ann, str) else ann  # noqa: S307  # nosec B307 - our own annotations
            except Exception:  # noqa: S112  # nosec B112 - unresolvable: accept any value
                continue
        return found


def _type_name(tp: Any) -> str:
    return str(tp).replace("typing.", "").replace("collections.abc.", "")


def compile_checks(func: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], None]:
    """The argument check of ``func`` (a method: its first parameter is skipped)."""
    sig = inspect.signature(func)
    hints = _hints(func)
    positional: list[_Param] = []
    by_name: dict[str, _Param] = {}
    accepts_kwargs = False
    for p in list(sig.parameters.values())[1:]:
        if p.kind is p.VAR_KEYWORD:
            accepts_kwargs = True
            continue
        if p.kind is p.VAR_POSITIONAL or p.name in _SKIP:
            continue
        param = _Param(p.name, hints.get(p.name, Any), p.default is p.empty)
        by_name[p.name] = param
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional.append(param)
    if "timeout" not in by_name and not inspect.isasyncgenfunction(func):
        # the deadline of every call (see `BaseServiceClient`), taken by the wrapper
        by_name["timeout"] = _Param("timeout", float | None, False)
    qualname = func.__qualname__
    required_kw = [
        p.name for p in by_name.values() if p.required and all(p is not q for q in positional)
    ]
    n_positional = len(positional)
    positional_checks = [p.validate for p in positional]
    named_checks = {name: p.validate for name, p in by_name.items()}

    def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if len(args) > n_positional:
            raise ConfigError(f"{qualname} takes {n_positional} positional argument(s)")
        for validate, value in zip(positional_checks, args, strict=False):
            validate(value)
        for name, value in kwargs.items():
            named = named_checks.get(name)
            if named is None:
                if accepts_kwargs:
                    continue
                raise ConfigError(f"{qualname} has no argument {name!r}")
            named(value)
        if len(args) < n_positional:
            for param in positional[len(args) :]:
                if param.required and param.name not in kwargs:
                    raise ConfigError(f"{qualname} needs the argument {param.name}")
        for name in required_kw:
            if name not in kwargs:
                raise ConfigError(f"{qualname} needs the argument {name}")

    return check


def _check_one(param: _Param, value: Any) -> None:
    if not param.check(value):
        raise ConfigError(
            f"{param.name} must be {param.type_name}, not {type(value).__name__} {_short(value)}"
        )
    param.shape(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def is_checked(func: Any) -> bool:
    return bool(getattr(func, "__lark_checked__", False))


def mark_checked(wrapper: Callable[..., Any], func: Callable[..., Any]) -> Callable[..., Any]:
    functools.update_wrapper(wrapper, func)
    wrapper.__lark_checked__ = True  # type: ignore[attr-defined]
    return wrapper
