"""The status an ASGI app answered with, noted on the way out (for metrics and traces)."""

from __future__ import annotations

from litestar.types import Message, Send


class ResponseStatus:
    """A ``send`` that passes messages on and keeps the response's status.

    ``status`` starts at 500: what the client sees if the app fails before answering.
    """

    __slots__ = ("_send", "status")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)
