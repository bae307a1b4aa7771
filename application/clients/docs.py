"""`DocClient`: cloud docs — docx documents, drive files and permissions, Sheets, Bitable."""

from __future__ import annotations

from application.clients.bitable import BitableMixin
from application.clients.docx import DocxMixin
from application.clients.drive import DriveMixin
from application.clients.sheets import SheetsMixin


class DocClient(DocxMixin, DriveMixin, SheetsMixin, BitableMixin):
    """Cloud docs. Every method takes ``app_id=`` keyword-only."""
