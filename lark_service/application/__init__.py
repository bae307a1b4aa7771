"""Use cases and policies: the credential pool, app resolution and the service clients.

Depends only on ``domain``; other services embed this layer.
"""

from lark_service.application.base_client import BaseServiceClient
from lark_service.application.clients.contact import ContactClient
from lark_service.application.clients.docs import DocClient
from lark_service.application.clients.messaging import MessagingClient
from lark_service.application.clients.tables import WorkspaceTableClient
from lark_service.application.manager import ApplicationManager
from lark_service.application.pool import CredentialPool
from lark_service.application.resolution import AppResolver, current_context_app, use_app

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
