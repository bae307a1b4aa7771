"""`DocClient`: cloud docs — docx documents, drive files and permissions, Sheets, Bitable."""

from __future__ import annotations

from lark_service.application.clients.bitable import BitableMixin
from lark_service.application.clients.docx import DocxMixin
from lark_service.application.clients.drive import DriveMixin
from lark_service.application.clients.sheets import SheetsMixin


class DocClient(DocxMixin, DriveMixin, SheetsMixin, BitableMixin):
    """Cloud docs. Every method takes ``app_id=`` keyword-only."""
