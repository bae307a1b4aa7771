"""Decoding Lark's reply envelope with msgspec, without decoding ``data`` twice."""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec

from lark_service.domain.errors import LarkServiceError, ServerError, error_from_reply
from lark_service.domain.wire import LarkReply, LarkRequest


class _ErrorDetail(msgspec.Struct):
    log_id: str = ""


class _Envelope(msgspec.Struct):
    code: int = 0
    msg: str = ""
    data: msgspec.Raw = msgspec.Raw(b"")
    error: _ErrorDetail | str | None = None
    # OAuth v2 errors
    error_description: str = ""


_decode_envelope = msgspec.json.Decoder(_Envelope).decode


def parse_reply(
    request: LarkRequest, status: int, headers: Mapping[str, str], body: bytes
) -> LarkReply | LarkServiceError:
    """Turn a raw HTTP reply into a ``LarkReply`` or the typed error to raise.

    ``headers`` must look names up case-insensitively (aiohttp's ``CIMultiDictProxy``)."""
    log_id = headers.get("x-tt-logid", "")
    content_type = headers.get("content-type", "")
    if request.binary and status < 400 and not content_type.startswith("application/json"):
        # downloads keep their headers (Content-Disposition names the file)
        kept = {k.lower(): v for k, v in headers.items()}
        return LarkReply(http_status=status, content=body, headers=kept, log_id=log_id)
    try:
        env = _decode_envelope(body)
    except (msgspec.DecodeError, ValueError):
        return _not_json(request, status, headers, log_id)
    if isinstance(env.error, _ErrorDetail) and env.error.log_id:
        log_id = log_id or env.error.log_id
    if env.code == 0 and status < 400:
        # Token endpoints reply without a ``data`` wrapper: their fields are the body.
        data = env.data if len(env.data) else msgspec.Raw(body)
        return LarkReply(http_status=status, code=0, msg=env.msg, log_id=log_id, data=data)
    return error_from_reply(
        code=env.code if env.code else -1,
        msg=env.msg or env.error_description or f"HTTP {status}",
        http_status=status,
        log_id=log_id,
        app_id=request.app_id,
        api=request.api,
        retry_after=_retry_after(headers),
    )


def _not_json(
    request: LarkRequest, status: int, headers: Mapping[str, str], log_id: str
) -> LarkServiceError:
    """A reply whose body is not Lark's envelope (a gateway's or proxy's page, a plain-text
    404): classified by its status and headers, as a JSON reply without a code would be."""
    msg = f"Lark replied HTTP {status} with a body that is not a JSON envelope"
    if status < 400:
        # a success status with an unreadable body is a broken reply, worth retrying
        return ServerError(
            msg, http_status=status, log_id=log_id, app_id=request.app_id, api=request.api, code=-2
        )
    return error_from_reply(
        code=-2,
        msg=msg,
        http_status=status,
        log_id=log_id,
        app_id=request.app_id,
        api=request.api,
        retry_after=_retry_after(headers),
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Lark's ``x-ogw-ratelimit-reset``, else a numeric ``Retry-After`` (gateways send it)."""
    reset = _float(headers.get("x-ogw-ratelimit-reset"))
    return reset if reset is not None else _float(headers.get("retry-after"))


def _float(value: str | None) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return max(0.0, number) if math.isfinite(number) else None
