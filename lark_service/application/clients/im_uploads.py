"""Image and file uploads (mixed into `MessagingClient`): checked, then sent multipart.

``POST /open-apis/im/v1/images`` (``image_type``, ``image``) → ``data.image_key``;
``POST /open-apis/im/v1/files`` (``file_type``, ``file_name``, ``duration``, ``file``) →
``data.file_key``.
"""

from __future__ import annotations

import msgspec

from lark_service.application.base_client import BaseServiceClient, decode_data
from lark_service.application.clients.im_content import Source, read_file, read_image
from lark_service.domain.wire import FormField


class _ImageKey(msgspec.Struct):
    image_key: str


class _FileKey(msgspec.Struct):
    file_key: str


class UploadsMixin(BaseServiceClient):
    """Upload images and files for messages."""

    async def upload_image(
        self,
        image: Source,
        *,
        image_type: str = "message",
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Upload an image (≤10 MB) and return its ``image_key``."""
        data, name = await read_image(image, image_type)
        form = [
            FormField(name="image_type", value=image_type),
            FormField(name="image", value=data, filename=name or "image"),
        ]
        reply = await self._call(
            "POST",
            "/open-apis/im/v1/images",
            api="im.image.create",
            app_id=app_id,
            form=form,
            rate_family="im.upload",
        )
        return decode_data(reply.data, _ImageKey, api="im.image.create").image_key

    async def upload_file(
        self,
        file: Source,
        *,
        file_name: str | None = None,
        file_type: str | None = None,
        duration: int | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Upload a file and return its ``file_key``; ``file_type`` defaults from the name."""
        data, name, kind = await read_file(file, file_name, file_type)
        form = [FormField(name="file_type", value=kind), FormField(name="file_name", value=name)]
        if duration is not None:
            form.append(FormField(name="duration", value=str(int(duration))))
        form.append(FormField(name="file", value=data, filename=name))
        reply = await self._call(
            "POST",
            "/open-apis/im/v1/files",
            api="im.file.create",
            app_id=app_id,
            form=form,
            rate_family="im.upload",
        )
        return decode_data(reply.data, _FileKey, api="im.file.create").file_key
