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
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from lark_service.application.base_client import encode_json
from lark_service.application.clients.cards import CardBuilder
from lark_service.application.clients.post import PostBuilder
from lark_service.domain.errors import ConfigError
from lark_service.domain.models import ids
from lark_service.domain.models.messaging import (
    CONTAINER_ID_TYPES,
    EDITABLE_MSG_TYPES,
    FILE_TYPES,
    IMAGE_TYPES,
    MSG_TYPES,
    RECEIVE_ID_TYPES,
    SORT_TYPES,
)

TEXT_MAX_BYTES = 150 * 1024
RICH_MAX_BYTES = 30 * 1024  # post and interactive
UUID_MAX_LEN = 50
LIST_PAGE_SIZE_MAX = 50
IMAGE_MAX_BYTES = 10 * 1024 * 1024
FILE_MAX_BYTES = 30 * 1024 * 1024
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_UUID = re.compile(r"[\x21-\x7e]+")
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


# A well-formed receiver of each prefixed id type, in one match (`ids.check_id`'s rules for
# a prefixed Lark id); anything else goes through the full checks, which name the fault.
_RECEIVER = {
    id_type: re.compile(re.escape(prefix) + rf"[A-Za-z0-9_\-]{{1,{ids.ID_MAX_LEN - len(prefix)}}}")
    for id_type, prefix in _ID_PREFIX.items()
}


def new_uuid() -> str:
    """A dedup uuid for one logical send (Lark keeps one message per uuid for 1 h): 128
    random bits as 32 hex digits, like ``uuid4().hex`` at a fifth of its cost."""
    return os.urandom(16).hex()


def check_receiver(receive_id: str, receive_id_type: str) -> None:
    """Reject an unknown id type, an empty id or an id of the wrong kind or shape."""
    shape = _RECEIVER.get(receive_id_type) if type(receive_id_type) is str else None
    if shape is not None and type(receive_id) is str and shape.fullmatch(receive_id):
        return
    if not isinstance(receive_id_type, str) or receive_id_type not in RECEIVE_ID_TYPES:
        raise ConfigError(
            f"receive_id_type must be one of {sorted(RECEIVE_ID_TYPES)}, not {receive_id_type!r}"
        )
    if not isinstance(receive_id, str):
        raise ConfigError(f"receive_id must be a str, not {type(receive_id).__name__}")
    if not receive_id:
        raise ConfigError("receive_id is empty")
    if receive_id_type == "email":
        if len(receive_id) > 254 or not _EMAIL.fullmatch(receive_id):
            raise ConfigError(f"receive_id {receive_id[:40]!r} is not an email address")
        return
    ids.check_id(receive_id, "receive_id", prefix=_ID_PREFIX.get(receive_id_type, ""))


def check_message_id(message_id: str) -> None:
    ids.check_id(message_id, "message_id")


def check_uuid(uuid: str) -> str:
    if not isinstance(uuid, str) or not uuid or len(uuid) > UUID_MAX_LEN:
        raise ConfigError(f"uuid must be a str of 1 to {UUID_MAX_LEN} characters")
    if not _UUID.fullmatch(uuid):
        raise ConfigError("uuid must be printable ASCII without spaces")
    return uuid


def send_uuid(uuid: str | None) -> str:
    """The caller's uuid or a new one for this logical send. The caller's was checked with
    the send's other arguments (every ``uuid`` argument is: `arguments`)."""
    return uuid if uuid is not None else new_uuid()


def encode_content(msg_type: str, content: str | dict[str, Any]) -> str:
    """The JSON string Lark expects in ``content``, size-checked for ``msg_type``."""
    if msg_type not in MSG_TYPES:
        raise ConfigError(f"msg_type must be one of {sorted(MSG_TYPES)}, not {msg_type!r}")
    if isinstance(content, str):
        text = ids.check_text(content, "content")
        size = len(text) if text.isascii() else len(text.encode())
    elif isinstance(content, dict):
        try:
            raw = encode_json(content)  # valid UTF-8: a lone surrogate is refused here
        except ConfigError as exc:
            raise ConfigError(f"content: {exc.msg}") from None
        text, size = raw.decode(), len(raw)
    else:
        raise ConfigError(f"content must be a str or a dict, not {type(content).__name__}")
    if msg_type == "text" and size > TEXT_MAX_BYTES:
        raise ConfigError(f"text content is over Lark's {TEXT_MAX_BYTES // 1024} KB limit")
    if msg_type in ("post", "interactive") and size > RICH_MAX_BYTES:
        raise ConfigError(f"{msg_type} content is over Lark's {RICH_MAX_BYTES // 1024} KB limit")
    return text


def reply_content(msg_type: str, content: str | dict[str, Any] | PostBuilder | CardBuilder) -> str:
    """A reply's ``content``: builders are built first, then encoded for ``msg_type``."""
    if isinstance(content, (PostBuilder, CardBuilder)):
        content = content.build()
    return encode_content(msg_type, content)


def edit_content(msg_type: str, content: str | dict[str, Any] | PostBuilder) -> str:
    """An edit's (PUT) ``content``: only text and post can be edited."""
    if msg_type not in EDITABLE_MSG_TYPES:
        raise ConfigError("only text and post messages can be edited; use update_card")
    if isinstance(content, PostBuilder):
        content = content.build()
    return encode_content(msg_type, content)


def card_content(card: dict[str, Any] | CardBuilder) -> str:
    """A card update's (PATCH) ``content``."""
    return encode_content("interactive", card.build() if isinstance(card, CardBuilder) else card)


def check_history(
    container_id: str, container_id_type: str, sort_type: str, page_size: int
) -> None:
    """Reject a history query Lark would refuse."""
    if container_id_type not in CONTAINER_ID_TYPES:
        raise ConfigError(f"container_id_type must be one of {sorted(CONTAINER_ID_TYPES)}")
    if not container_id:
        raise ConfigError("container_id is empty")
    if sort_type not in SORT_TYPES:
        raise ConfigError(f"sort_type must be one of {sorted(SORT_TYPES)}")
    if not 1 <= page_size <= LIST_PAGE_SIZE_MAX:
        raise ConfigError(f"page_size must be 1 to {LIST_PAGE_SIZE_MAX}")


def unix_seconds(value: int | datetime | None, name: str = "start_time") -> int | None:
    """A history bound as Unix seconds (Lark's unit there)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} must be Unix seconds (>= 0) or a datetime, not {value!r}")
    return value


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


async def read_image(image: Source, image_type: str) -> tuple[bytes, str]:
    """The checked bytes and file name of an image upload."""
    if image_type not in IMAGE_TYPES:
        raise ConfigError(f"image_type must be one of {sorted(IMAGE_TYPES)}")
    data, name = await read_source(image)
    check_image(data)
    return data, name


async def read_file(
    file: Source, file_name: str | None, file_type: str | None
) -> tuple[bytes, str, str]:
    """The checked bytes, file name and file_type of a file upload."""
    data, name = await read_source(file)
    name = file_name or name
    return data, name, check_file(data, name, file_type)


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
