"""Who signed in: ``GET /open-apis/authen/v1/user_info`` with a freshly issued user token.

The callback checks it against the user the state was issued for, so a link forwarded to
(or opened by) someone else cannot store that person's grant under the intended user.
"""

from __future__ import annotations

import msgspec

from lark_service.domain.apps import AppConfig
from lark_service.domain.errors import ServerError
from lark_service.domain.ports.transport import LarkTransport
from lark_service.domain.wire import LarkRequest

__all__ = ["USER_INFO_API", "signed_in_open_id"]

USER_INFO_API = "authen.user_info"
_PATH = "/open-apis/authen/v1/user_info"


class _UserInfo(msgspec.Struct):
    open_id: str = ""


async def signed_in_open_id(transport: LarkTransport, app: AppConfig, access_token: str) -> str:
    """The open_id of the user ``access_token`` belongs to."""
    request = LarkRequest(
        method="GET",
        base_url=app.base_url,
        path=_PATH,
        api=USER_INFO_API,
        app_id=app.app_id,
        token=access_token,
        idempotent=True,
    )
    reply = await transport.call(request)
    try:
        info = msgspec.json.decode(reply.data, type=_UserInfo)
    except msgspec.DecodeError:
        info = _UserInfo()
    if not info.open_id:
        raise ServerError("user_info answered no open_id", app_id=app.app_id, api=USER_INFO_API)
    return info.open_id
