"""Checks and encodings for im/v1 content, run before anything is sent (`ConfigError`).

Limits (lark-api-reference.md §3): text content ≤150 KB, post and card content ≤30 KB,
uuid ≤50 characters, image ≤10 MB in JPEG/PNG/WEBP/GIF/TIFF/BMP/ICO, file not empty.
Chosen where the docs are silent or UNCONFIRMED: the 30 MB file cap; sizes count the UTF-8
bytes of the JSON string sent as ``content``; receiver ids are checked against Lark's id
prefixes (``oc_`` chat, ``ou_`` open_id, ``on_`` union_id, an ``@`` in an email).
"""

from __future__ import annotations

import asyncio
import os
import uuid as uuid_lib
from pathlib import Path
from typing import Any

from application.base_client import encode_json
from domain.errors import ConfigError
from domain.models.messaging import FILE_TYPES, MSG_TYPES, RECEIVE_ID_TYPES

TEXT_MAX_BYTES = 150 * 1024
RICH_MAX_BYTES = 30 * 1024  # post and interactive
UUID_MAX_LEN = 50
IMAGE_MAX_BYTES = 10 * 1024 * 1024
FILE_MAX_BYTES = 30 * 1024 * 1024
_ID_PREFIX = {"chat_id": "oc_", "open_id": "ou_", "union_id": "on_"}
_EXT_FILE_TYPE = {
    ".opus": "opus",
    ".mp4": "mp4",
    ".pdf": "pdf",
    ".doc": "doc",
    ".docx": "doc",
    ".xls": "xls",
    ".xlsx": "xls",
    ".ppt": "ppt",
    ".pptx": "ppt",
}

Source = bytes | str | os.PathLike[str]


def new_uuid() -> str:
    """A dedup uuid for one logical send (Lark keeps one message per uuid for 1 h)."""
    return uuid_lib.uuid4().hex


def check_receiver(receive_id: str, receive_id_type: str) -> None:
    """Reject an unknown id type, an empty id or an id of the wrong kind."""
    if receive_id_type not in RECEIVE_ID_TYPES:
        raise ConfigError(
            f"receive_id_type must be one of {sorted(RECEIVE_ID_TYPES)}, not {receive_id_type!r}"
        )
    if not receive_id:
        raise ConfigError("receive_id is empty")
    prefix = _ID_PREFIX.get(receive_id_type)
    if prefix is not None and not receive_id.startswith(prefix):
        raise ConfigError(f"a {receive_id_type} starts with {prefix!r}; got {receive_id!r}")
    if receive_id_type == "email" and "@" not in receive_id:
        raise ConfigError(f"{receive_id!r} is not an email address")


def check_message_id(message_id: str) -> None:
    if not message_id.startswith("om_"):
        raise ConfigError(f"a message_id starts with 'om_'; got {message_id!r}")


def check_uuid(uuid: str) -> str:
    if not uuid or len(uuid) > UUID_MAX_LEN:
        raise ConfigError(f"uuid must be 1 to {UUID_MAX_LEN} characters")
    return uuid


def encode_content(msg_type: str, content: str | dict[str, Any]) -> str:
    """The JSON string Lark expects in ``content``, size-checked for ``msg_type``."""
    if msg_type not in MSG_TYPES:
        raise ConfigError(f"msg_type must be one of {sorted(MSG_TYPES)}, not {msg_type!r}")
    text = content if isinstance(content, str) else encode_json(content).decode()
    size = len(text.encode())
    if msg_type == "text" and size > TEXT_MAX_BYTES:
        raise ConfigError(f"text content is over Lark's {TEXT_MAX_BYTES // 1024} KB limit")
    if msg_type in ("post", "interactive") and size > RICH_MAX_BYTES:
        raise ConfigError(f"{msg_type} content is over Lark's {RICH_MAX_BYTES // 1024} KB limit")
    return text


async def read_source(source: Source) -> tuple[bytes, str]:
    """The bytes of ``source`` and its file name ("" for bytes)."""
    if isinstance(source, bytes):
        return source, ""
    path = Path(source)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    return data, path.name


def image_format(data: bytes) -> str | None:
    """The image format named by ``data``'s magic bytes, or ``None``."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] == b"\x00\x00\x01\x00":
        return "ico"
    return None


def check_image(data: bytes) -> None:
    if not data:
        raise ConfigError("the image is empty")
    if len(data) > IMAGE_MAX_BYTES:
        raise ConfigError("the image is over Lark's 10 MB limit")
    if image_format(data) is None:
        raise ConfigError("not an image Lark takes (JPEG, PNG, WEBP, GIF, TIFF, BMP, ICO)")


def check_file(data: bytes, file_name: str, file_type: str | None) -> str:
    """Validate an upload and return its file_type (inferred from the extension if None)."""
    if not data:
        raise ConfigError("the file is empty")
    if len(data) > FILE_MAX_BYTES:
        raise ConfigError("the file is over the 30 MB limit")
    if not file_name:
        raise ConfigError("file_name is required")
    if file_type is None:
        file_type = _EXT_FILE_TYPE.get(Path(file_name).suffix.lower(), "stream")
    if file_type not in FILE_TYPES:
        raise ConfigError(f"file_type must be one of {sorted(FILE_TYPES)}, not {file_type!r}")
    return file_type
