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

    async def close_loop_sessions(self) -> None:
        """Release what the transport holds for the running event loop (its connections).

        Call it before a short-lived loop ends (a thread's ``asyncio.run``). Implementations
        must also release, on their own, what they hold for loops that have since closed, so
        a pool shared by many short-lived loops does not grow."""
        ...
