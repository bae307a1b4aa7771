"""Use cases and policies: the credential pool, app resolution and the service clients.

Depends only on ``domain``; other services embed this layer.
"""

from application.base_client import BaseServiceClient
from application.clients.contact import ContactClient
from application.clients.docs import DocClient
from application.clients.messaging import MessagingClient
from application.clients.tables import WorkspaceTableClient
from application.manager import ApplicationManager
from application.pool import CredentialPool
from application.resolution import AppResolver, current_context_app, use_app

__all__ = [
    "AppResolver",
    "ApplicationManager",
    "BaseServiceClient",
    "ContactClient",
    "CredentialPool",
    "DocClient",
    "MessagingClient",
    "WorkspaceTableClient",
    "current_context_app",
    "use_app",
]
