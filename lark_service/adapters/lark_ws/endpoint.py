"""Endpoint discovery: where to dial the long connection, and the server's client config.

``POST {base_url}/callback/ws/endpoint`` with header ``locale: zh`` and body
``{"AppID", "AppSecret"}`` answers ``{code, msg, data: {URL, ClientConfig: {ReconnectCount,
ReconnectInterval, ReconnectNonce, PingInterval}}}`` (seconds). Code 0 is success; 1 (busy)
and 1000040343 (internal error) are worth retrying (`ServerError`); any other code is the
app's fault (a wrong secret, long connection not enabled): `AuthError`, not retried. The
``URL``'s query names the ``device_id`` and ``service_id`` the frames use.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import msgspec

from lark_service.domain.errors import AuthError, ServerError, TransportError

__all__ = ["ENDPOINT_PATH", "ClientConfig", "Endpoint", "discover_endpoint"]

ENDPOINT_PATH = "/callback/ws/endpoint"
_RETRYABLE_CODES = frozenset({1, 1000040343})


class ClientConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The server's timing for this connection, in seconds (Lark's defaults)."""

    reconnect_count: int = -1  # attempts after a drop; -1: forever
    reconnect_interval: float = 120.0
    reconnect_nonce: float = 30.0  # the first attempt waits a random part of this
    ping_interval: float = 120.0

    def merged(self, raw: Any) -> ClientConfig:
        """This config with the fields of Lark's ``ClientConfig`` object that are present
        and valid (a pong may carry a partial one); anything else is ignored."""
        if not isinstance(raw, dict):
            return self
        changes: dict[str, Any] = {}
        for ours, theirs in (
            ("reconnect_count", "ReconnectCount"),
            ("reconnect_interval", "ReconnectInterval"),
            ("reconnect_nonce", "ReconnectNonce"),
            ("ping_interval", "PingInterval"),
        ):
            value = raw.get(theirs)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if ours == "reconnect_count":
                if value >= -1:
                    changes[ours] = int(value)
            elif value >= 0 and (ours != "ping_interval" or value > 0):
                changes[ours] = float(value)
        return msgspec.structs.replace(self, **changes) if changes else self


class Endpoint(msgspec.Struct, frozen=True, kw_only=True):
    """A discovered connection URL (it carries a ticket: never logged) and its config."""

    url: str
    device_id: str
    service_id: int
    config: ClientConfig

    def __repr__(self) -> str:
        return f"Endpoint(device_id={self.device_id!r}, service_id={self.service_id})"

    __str__ = __repr__


async def discover_endpoint(
    base_url: str,
    app_id: str,
    app_secret: str,
    *,
    deadline: float = 10.0,
    defaults: ClientConfig | None = None,
) -> Endpoint:
    """Ask Lark where to dial for ``app_id`` (within ``deadline`` seconds); raises
    `ServerError` (retry), `AuthError` (do not) or `TransportError` (network, retry)."""
    body = msgspec.json.encode({"AppID": app_id, "AppSecret": app_secret})
    headers = {"locale": "zh", "Content-Type": "application/json; charset=utf-8"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=deadline)) as session,
            session.post(base_url + ENDPOINT_PATH, data=body, headers=headers) as resp,
        ):
            status, raw = resp.status, await resp.read()
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise TransportError(
            f"long connection: endpoint discovery failed ({type(exc).__name__})",
            app_id=app_id,
            api=ENDPOINT_PATH,
        ) from None
    try:
        reply = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        reply = None
    if not isinstance(reply, dict):
        raise ServerError(
            "long connection: endpoint discovery answered no JSON object",
            http_status=status,
            app_id=app_id,
            api=ENDPOINT_PATH,
        )
    code, msg = reply.get("code"), str(reply.get("msg", ""))[:200]
    if code != 0 or status != 200:
        error = ServerError if (code in _RETRYABLE_CODES or status >= 500) else AuthError
        raise error(
            f"long connection: endpoint discovery refused: {msg or 'no message'}",
            code=code if isinstance(code, int) else None,
            http_status=status,
            app_id=app_id,
            api=ENDPOINT_PATH,
        )
    return _endpoint(reply.get("data"), defaults or ClientConfig(), app_id)


def _endpoint(data: Any, defaults: ClientConfig, app_id: str) -> Endpoint:
    url = data.get("URL") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
        raise ServerError("long connection: the endpoint has no ws(s) URL", app_id=app_id)
    query = parse_qs(urlsplit(url).query)
    device_id = (query.get("device_id") or [""])[0]
    service = (query.get("service_id") or [""])[0]
    if not service.lstrip("-").isdigit():
        raise ServerError("long connection: the endpoint URL has no service_id", app_id=app_id)
    config = defaults.merged(data.get("ClientConfig"))
    return Endpoint(url=url, device_id=device_id, service_id=int(service), config=config)
