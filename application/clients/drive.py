"""`DriveMixin`: part of `DocClient`."""

from __future__ import annotations

from application.base_client import BaseServiceClient


class DriveMixin(BaseServiceClient):
    """Placeholder until this area is implemented."""
