"""Input checks on docx, drive and permission calls, made before anything is sent.

`DocClient` runs them, so bad input is a `ConfigError` before any request. The value sets
and limits are those of `lark_service.domain.models.docs`.
"""

from __future__ import annotations

from collections.abc import Sequence

from lark_service.domain.errors import ConfigError
from lark_service.domain.models.common import check_page_size
from lark_service.domain.models.docs import (
    DELETE_FILE_TYPES,
    FILE_DIRECTIONS,
    FILE_ORDER_BY,
    MAX_FILE_NAME_CHARS,
    MAX_FILES_PAGE_SIZE,
    MAX_MEDIA_UPLOAD_BYTES,
    MEMBER_TYPES,
    PERMISSION_DOC_TYPES,
    PERMS,
    Block,
)


def require(value: str, name: str) -> None:
    """``value`` is a non-empty string."""
    if not value or not isinstance(value, str):
        raise ConfigError(f"{name} is empty")


def one_of(value: str, allowed: frozenset[str], name: str) -> None:
    """``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {sorted(allowed)}, not {value!r}")


# docx --------------------------------------------------------------------------------------
def check_new_blocks(document_id: str, blocks: Sequence[Block], index: int | None) -> None:
    """`append_blocks`: a document, at least one block, and an index of -1 (end) or ≥ 0."""
    require(document_id, "document_id")
    if not blocks:
        raise ConfigError("blocks is empty")
    if index is not None and index < -1:
        raise ConfigError(f"index must be -1 (end) or ≥ 0, not {index}")


def check_image(document_id: str, image_bytes: bytes) -> None:
    """`append_image`: a document and 1 byte to `MAX_MEDIA_UPLOAD_BYTES` of image."""
    require(document_id, "document_id")
    if not image_bytes:
        raise ConfigError("image_bytes is empty")
    if len(image_bytes) > MAX_MEDIA_UPLOAD_BYTES:
        raise ConfigError(f"images over {MAX_MEDIA_UPLOAD_BYTES} bytes are not accepted")


# drive -------------------------------------------------------------------------------------
def check_file_listing(page_size: int, order_by: str, direction: str) -> None:
    """`list_files`: page size and ordering."""
    check_page_size(page_size, MAX_FILES_PAGE_SIZE)
    one_of(order_by, FILE_ORDER_BY, "order_by")
    one_of(direction, FILE_DIRECTIONS, "direction")


def check_upload(file_name: str, parent_node: str, parent_type: str) -> None:
    """`upload_file`: a name of at most `MAX_FILE_NAME_CHARS`, a folder, ``explorer``."""
    require(file_name, "file_name")
    require(parent_node, "parent_node")
    if len(file_name) > MAX_FILE_NAME_CHARS:
        raise ConfigError(f"file_name is over {MAX_FILE_NAME_CHARS} characters")
    one_of(parent_type, frozenset({"explorer"}), "parent_type")


def check_delete(file_token: str, doc_type: str) -> None:
    """`delete_file`: a token and a deletable type."""
    require(file_token, "file_token")
    one_of(doc_type, DELETE_FILE_TYPES, "doc_type")


# permissions -------------------------------------------------------------------------------
def check_doc(token: str, doc_type: str) -> None:
    """The doc whose collaborators are read or changed."""
    require(token, "token")
    one_of(doc_type, PERMISSION_DOC_TYPES, "doc_type")


def check_member(token: str, doc_type: str, member_type: str, member_id: str) -> None:
    """A collaborator of the doc ``token`` (to grant or revoke)."""
    require(token, "token")
    require(member_id, "member_id")
    one_of(doc_type, PERMISSION_DOC_TYPES, "doc_type")
    one_of(member_type, MEMBER_TYPES, "member_type")


def check_perm(perm: str) -> None:
    """A permission level to grant."""
    one_of(perm, PERMS, "perm")
