"""Lark's long connection (WebSocket event delivery), for apps without a public webhook URL.

    conn = LongConnection(app_id=..., app_secret=..., base_url=app.base_url,
                          deliver=intake.accept)
    task = asyncio.create_task(conn.run())
    ...
    await conn.stop()

`LeasedConnection` runs one per app across replicas (a `LeaseStore` lease). Modules:
``frames`` (the protobuf ``pbbp2.Frame``), ``endpoint`` (discovery and ``ClientConfig``),
``reassembly`` (multi-part payloads), ``client`` (one socket's protocol, reconnects),
``supervisor`` (the lease).
"""

from lark_service.adapters.lark_ws.client import Deliver, LongConnection, LongConnectionOptions
from lark_service.adapters.lark_ws.endpoint import ClientConfig, Endpoint, discover_endpoint
from lark_service.adapters.lark_ws.supervisor import (
    DEFAULT_LEASE_TTL,
    LeasedConnection,
    default_holder,
    lease_name,
)

__all__ = [
    "DEFAULT_LEASE_TTL",
    "ClientConfig",
    "Deliver",
    "Endpoint",
    "LeasedConnection",
    "LongConnection",
    "LongConnectionOptions",
    "default_holder",
    "discover_endpoint",
    "lease_name",
]
