"""Transport-neutral shapes of one call to the Lark Open API."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec


class FormField(msgspec.Struct, frozen=True, kw_only=True):
    """One part of a multipart upload; ``filename`` marks a file part."""

    name: str
    value: str | bytes
    filename: str | None = None
    content_type: str | None = None


class LarkRequest(msgspec.Struct, kw_only=True):
    """A request to Lark: ``path`` starts with ``/open-apis/``; ``body`` is encoded JSON."""

    method: str
    base_url: str
    path: str
    api: str = ""
    app_id: str = ""
    token: str | None = None
    query: Sequence[tuple[str, str]] | None = None
    body: bytes | None = None
    form: list[FormField] | None = None
    headers: dict[str, str] | None = None
    # True when a repeat cannot cause a second effect: GET/PUT/DELETE, or a POST with Lark's uuid.
    idempotent: bool = False
    # Binary replies (downloads) are returned raw instead of as an envelope.
    binary: bool = False

    def __repr__(self) -> str:
        return f"LarkRequest({self.method} {self.path} api={self.api!r} app_id={self.app_id!r})"


class LarkReply(msgspec.Struct, kw_only=True):
    """A successful reply: ``data`` is the undecoded JSON of the envelope's ``data``.

    For app/tenant token endpoints (whose reply is not wrapped in ``data``) ``data`` is the
    whole body; for binary replies ``content`` holds the bytes.
    """

    http_status: int
    code: int = 0
    msg: str = "success"
    log_id: str = ""
    data: msgspec.Raw = msgspec.Raw(b"null")
    content: bytes = b""
    headers: dict[str, str] = {}
