"""`CloudDocCalls`: the steps the docx, drive and Sheets mixins of `DocClient` share.

`_fetch` makes one call and decodes its ``data``; `_upload_all` sends bytes in one
``files/upload_all`` or ``medias/upload_all`` (every cloud doc's files live in drive) with
their adler32 checksum as a decimal string, and returns the new file_token.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from lark_service.application.base_client import BaseServiceClient, decode_data
from lark_service.domain.models.ids import lark_path
from lark_service.domain.wire import FormField

T = TypeVar("T")

DRIVE_V1 = "/open-apis/drive/v1"


class FileToken(msgspec.Struct):
    """The reply of an upload: the new file's token."""

    file_token: str


def file_field(data: bytes, file_name: str) -> FormField:
    """The ``file`` part of an upload form."""
    return FormField(
        name="file", value=data, filename=file_name, content_type="application/octet-stream"
    )


class CloudDocCalls(BaseServiceClient):
    """Call-and-decode and single-request uploads for the cloud-docs mixins."""

    async def _fetch(
        self,
        type_: type[T],
        method: str,
        path: str,
        api: str,
        app_id: str | None,
        json: Any = None,
        *,
        query: Mapping[str, Any] | None = None,
        rate_family: str,
    ) -> T:
        """Call ``method path`` and decode Lark's ``data`` into ``type_``."""
        return await self._call_data(
            type_,
            method,
            path,
            api=api,
            app_id=app_id,
            query=query,
            json=json,
            rate_family=rate_family,
        )

    async def _upload_all(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str,
        parent_type: str,
        parent_node: str,
        extra: str | None = None,
        app_id: str | None,
    ) -> str:
        """POST ``drive/v1/<kind>/upload_all`` (kind: ``files`` or ``medias``)."""
        form = [
            FormField(name="file_name", value=file_name),
            FormField(name="parent_type", value=parent_type),
            FormField(name="parent_node", value=parent_node),
            FormField(name="size", value=str(len(data))),
            FormField(name="checksum", value=str(zlib.adler32(data))),
        ]
        if extra is not None:
            form.append(FormField(name="extra", value=extra))
        form.append(file_field(data, file_name))
        api = {"files": "drive.file.upload_all", "medias": "drive.media.upload_all"}[kind]
        reply = await self._call(
            "POST",
            lark_path(DRIVE_V1 + "/{kind}/upload_all", kind=kind),
            api=api,
            app_id=app_id,
            form=form,
            rate_family="drive.upload",
        )
        return decode_data(reply.data, FileToken, api=api).file_token
