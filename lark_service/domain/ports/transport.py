from __future__ import annotations

from typing import Protocol

from lark_service.domain.wire import LarkReply, LarkRequest


class LarkTransport(Protocol):
    """Sends one request to Lark.

    Returns the reply when ``code == 0``; raises a ``LarkAPIError`` subclass otherwise and
    ``TransportError`` when the network fails. Implementations retry rate limits and
    idempotent requests on 5xx / transport errors, bounded.
    """

    async def call(self, request: LarkRequest) -> LarkReply: ...

    async def aclose(self) -> None: ...
