"""Plain data and request primitives of the fake Lark server.

Nothing here knows about routing or state: `TokenInfo` (who a Bearer token belongs to),
`RecordedRequest` (what a test can inspect afterwards), `FakeLarkError` (rendered as Lark's
error envelope ``{"code", "msg", "error": {"log_id"}}``), `FakeApp` and `FakeRequest`.

Multipart bodies are parsed here with a small parser of our own because Starlette's needs
`python-multipart`, which this package does not depend on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from starlette.datastructures import QueryParams

__all__ = [
    "FakeApp",
    "FakeLarkError",
    "FakeRequest",
    "FormPart",
    "RecordedRequest",
    "TokenInfo",
]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """The owner of an issued token; ``kind`` is ``"tenant"``, ``"app"`` or ``"user"``."""

    app_id: str
    kind: str
    tenant_key: str
    user_id: str
    value: str


@dataclass(slots=True)
class RecordedRequest:
    """One request as the fake received it (header names are lower-case)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    token_info: TokenInfo | None = None

    def json(self) -> Any:
        """The body decoded as JSON (``None`` when empty)."""
        return msgspec.json.decode(self.body) if self.body else None


@dataclass(slots=True)
class FakeApp:
    """An app the fake knows. ``name`` defaults to the app_id; ``open_id`` is the bot's id."""

    app_id: str
    app_secret: str
    app_type: str = "self_built"
    tenant_keys: tuple[str, ...] = ("tenant_default",)
    name: str = ""
    open_id: str = ""

    @property
    def is_marketplace(self) -> bool:
        return self.app_type == "marketplace"


class FakeLarkError(Exception):
    """Raise from a handler to answer with Lark's error envelope.

    The body is ``{"code": code, "msg": msg, "error": {"log_id": ...}}`` updated with
    ``extra``; ``headers`` are added to the response.
    """

    def __init__(
        self,
        http_status: int,
        code: int,
        msg: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{http_status} code={code} {msg}")
        self.http_status = http_status
        self.code = code
        self.msg = msg
        self.headers = headers or {}
        self.extra = extra

    def body(self, log_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "msg": self.msg, "error": {"log_id": log_id}}
        if self.extra:
            out.update(self.extra)
        return out


@dataclass(frozen=True, slots=True)
class FormPart:
    """One field of a multipart (or urlencoded) form; ``filename`` marks a file part."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass(slots=True)
class FakeRequest:
    """What a route handler receives. ``query`` is parsed lazily."""

    method: str
    path: str
    path_params: dict[str, Any]
    headers: dict[str, str]
    body: bytes
    query_string: bytes = b""
    record: RecordedRequest | None = None
    token_info: TokenInfo | None = None
    _query: QueryParams | None = field(default=None, repr=False)

    @property
    def query(self) -> QueryParams:
        if self._query is None:
            self._query = QueryParams(self.query_string)
        return self._query

    def json(self) -> Any:
        """The JSON body; bad or empty JSON raises `FakeLarkError` (400, code 9499)."""
        try:
            return msgspec.json.decode(self.body)
        except msgspec.DecodeError:
            raise FakeLarkError(400, 9499, "Bad Request: invalid json body") from None

    def form(self) -> dict[str, FormPart]:
        """The multipart/form-data or urlencoded body by field name (the last one wins).

        Synchronous: the body is already read. A malformed body raises 400 / 9499.
        """
        ctype = self.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            pairs = parse_qsl(self.body.decode("latin-1"), keep_blank_values=True)
            return {k: FormPart(k, v.encode()) for k, v in pairs}
        match = _BOUNDARY.search(ctype)
        if not ctype.startswith("multipart/form-data") or match is None:
            raise FakeLarkError(400, 9499, "Bad Request: expected multipart/form-data")
        return _parse_multipart(self.body, match.group(1) or match.group(2))


_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))')
_PARAM = re.compile(r'(\w+)="([^"]*)"|(\w+)=([^;\s]*)')


def _parse_multipart(body: bytes, boundary: str) -> dict[str, FormPart]:
    delimiter = b"--" + boundary.encode("latin-1")
    out: dict[str, FormPart] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise FakeLarkError(400, 9499, "Bad Request: malformed multipart body")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").strip().split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        params = {
            (m.group(1) or m.group(3)): (m.group(2) if m.group(1) else m.group(4))
            for m in _PARAM.finditer(headers.get("content-disposition", ""))
        }
        if "name" not in params:
            continue
        out[params["name"]] = FormPart(
            params["name"], data, params.get("filename"), headers.get("content-type")
        )
    return out


def control_body(req: FakeRequest) -> dict[str, Any]:
    """The JSON object posted to one of the fake's own ``/_fake/...`` control endpoints."""
    try:
        body = req.json() if req.body else {}
    except msgspec.DecodeError:
        body = None
    if not isinstance(body, dict):
        raise FakeLarkError(400, 9499, "Bad Request: expected a JSON object")
    return body
