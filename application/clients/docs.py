"""`DocClient`: Cloud docs: docx, drive, permissions, Bitable and Sheets."""

from __future__ import annotations

from application.base_client import BaseServiceClient


class DocClient(BaseServiceClient):
    """Cloud docs: docx, drive, permissions, Bitable and Sheets."""
