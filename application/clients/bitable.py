"""`BitableMixin`: part of `DocClient`."""

from __future__ import annotations

from application.base_client import BaseServiceClient


class BitableMixin(BaseServiceClient):
    """Placeholder until this area is implemented."""
