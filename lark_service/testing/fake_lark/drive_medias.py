"""Fake drive v1 ``medias/upload_all``: media attached to a doc (e.g. a docx image block).

The scope checked follows ``parent_type`` (``docx_image`` needs the docx scope); the upload
is kept in `DriveState.medias` with its parent and ``extra`` for the docx module to find.
Checked like ``files/upload_all`` (≤ 20 MB, size and adler32 checksum).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lark_service.testing.fake_lark.drive_state import (
    MAX_UPLOAD_ALL,
    SCOPES,
    check_file,
    check_scope,
    drive_state,
    new_token,
    params_error,
)
from lark_service.testing.fake_lark.models import FakeRequest

if TYPE_CHECKING:
    from lark_service.testing.fake_lark.server import FakeLark, HandlerResult


def register_medias(fake: FakeLark) -> None:
    """Register ``POST /open-apis/drive/v1/medias/upload_all``."""

    @fake.route("POST", "/open-apis/drive/v1/medias/upload_all")
    async def media_upload(req: FakeRequest) -> HandlerResult:
        info = fake.require_token(req)
        parts = req.form()
        parent_type = parts["parent_type"].text if "parent_type" in parts else ""
        parent_node = parts["parent_node"].text if "parent_node" in parts else ""
        area = parent_type.split("_", 1)[0]
        check_scope(fake, info, area if area in SCOPES else "drive")
        if not parent_type or not parent_node:
            raise params_error("parent_type and parent_node are required")
        data = check_file(parts, MAX_UPLOAD_ALL)
        token = new_token("boxmedia")
        drive_state(fake).medias[token] = {
            "parent_type": parent_type,
            "parent_node": parent_node,
            "data": data,
            "app_id": info.app_id,
            "extra": parts["extra"].text if "extra" in parts else "",
        }
        return {"file_token": token}
