"""`WorkspaceTableClient`: aPaaS workspace data tables, called with a user's token."""

from __future__ import annotations

from application.base_client import BaseServiceClient


class WorkspaceTableClient(BaseServiceClient):
    """aPaaS workspace data tables, called with a user's token."""
