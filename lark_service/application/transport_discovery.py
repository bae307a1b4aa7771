"""Find the default Lark transport without importing ``adapters``.

The installed distribution advertises a factory under the ``lark_service.transport``
entry-point group; a bare-token client (no pool) builds its transport from it.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import cast

from lark_service.domain.errors import ConfigError
from lark_service.domain.ports.transport import LarkTransport

GROUP = "lark_service.transport"


def load_default_transport() -> LarkTransport:
    """Build the transport registered as ``default`` in the entry-point group."""
    found = entry_points(group=GROUP, name="default")
    for ep in found:
        factory = ep.load()
        return cast(LarkTransport, factory())
    raise ConfigError(
        f"no Lark transport registered under entry point group {GROUP!r}: install the "
        "lark-service distribution, or pass transport= explicitly"
    )
