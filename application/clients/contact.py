"""`ContactClient`: Contacts (contact/v3): users, departments, chats."""

from __future__ import annotations

from application.base_client import BaseServiceClient


class ContactClient(BaseServiceClient):
    """Contacts (contact/v3): users, departments, chats."""
