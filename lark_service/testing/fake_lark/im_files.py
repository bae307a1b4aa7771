"""Fake im/v1 uploads: ``POST /open-apis/im/v1/images`` and ``/open-apis/im/v1/files``.

Images: multipart ``image_type`` (message|avatar) and ``image`` → ``{"image_key":
"img_v3_…"}``; not empty (234010), ≤10 MB (234006), JPEG/PNG/WEBP/GIF/TIFF/BMP/ICO by magic
bytes (234011). Files: ``file_type`` (opus|mp4|pdf|doc|xls|ppt|stream), ``file_name``,
``duration`` (ms, digits), ``file`` → ``{"file_key": "file_v3_…"}``; not empty, ≤30 MB (a
cap UNCONFIRMED in Lark's docs). Bad or missing fields: 234001. Keys are remembered per app
in ``fake.state["im_images"]`` / ``["im_files"]`` so a send can check that the app uploaded
them. The 2340xx codes follow Lark's upload error table as far as it could be checked;
234011 is UNCONFIRMED.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from lark_service.testing.fake_lark.im_rules import RateLimits
from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest
from lark_service.testing.fake_lark.server import FakeLark, HandlerResult

FILE_TYPES = frozenset({"opus", "mp4", "pdf", "doc", "xls", "ppt", "stream"})
IMAGE_MAX = 10 * 1024 * 1024
FILE_MAX = 30 * 1024 * 1024
_IMAGE_MAGIC = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
    b"BM",
    b"\x00\x00\x01\x00",
)


def register_uploads(
    fake: FakeLark,
    caller: Callable[[FakeRequest], tuple[str, str]],
    limits: Callable[[], RateLimits],
) -> None:
    """Register the upload routes; ``caller`` checks the token and scope switch."""
    state = fake.state

    @fake.route("POST", "/open-apis/im/v1/images")
    async def upload_image(req: FakeRequest) -> HandlerResult:
        app_id, _ = caller(req)
        limits().check(app_id, "im.image.create", None)
        form = req.form()
        image_type, image = form.get("image_type"), form.get("image")
        if image_type is None or image_type.text not in ("message", "avatar") or image is None:
            raise FakeLarkError(400, 234001, "Invalid request param.")
        data = image.data
        if not data:
            raise FakeLarkError(400, 234010, "File's size can't be 0.")
        if len(data) > IMAGE_MAX:
            raise FakeLarkError(400, 234006, "The file size exceed the max value.")
        webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
        if not webp and not data.startswith(_IMAGE_MAGIC):
            raise FakeLarkError(400, 234011, "Can't recognize image format.")
        key = "img_v3_" + secrets.token_hex(12)
        state.setdefault("im_images", {})[key] = app_id
        return {"image_key": key}

    @fake.route("POST", "/open-apis/im/v1/files")
    async def upload_file(req: FakeRequest) -> HandlerResult:
        app_id, _ = caller(req)
        limits().check(app_id, "im.file.create", None)
        form = req.form()
        file_type, file_name, file = form.get("file_type"), form.get("file_name"), form.get("file")
        if file_type is None or file_type.text not in FILE_TYPES:
            raise FakeLarkError(400, 234001, "Invalid request param: file_type")
        if file_name is None or not file_name.text or file is None:
            raise FakeLarkError(400, 234001, "Invalid request param: file_name / file")
        duration = form.get("duration")
        # lark-oapi sends unset fields as empty parts: empty means absent
        if duration is not None and duration.text and not duration.text.isdigit():
            raise FakeLarkError(400, 234001, "Invalid request param: duration")
        if not file.data:
            raise FakeLarkError(400, 234010, "File's size can't be 0.")
        if len(file.data) > FILE_MAX:
            raise FakeLarkError(400, 234006, "The file size exceed the max value.")
        key = "file_v3_" + secrets.token_hex(12)
        meta = {"app_id": app_id, "file_type": file_type.text, "file_name": file_name.text}
        state.setdefault("im_files", {})[key] = meta
        return {"file_key": key}
