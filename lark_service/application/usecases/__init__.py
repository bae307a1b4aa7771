"""Use cases: what every entry point (HTTP routes, the worker, the CLI) calls, written once.

They are plain classes taking ports and application services in their constructors: no
framework, no container. Each entry point builds them in its composition root, and tests
build them directly with in-memory adapters and the fake Lark server.
"""

from lark_service.application.usecases.apps import AppChanges, AppsService, AppView, NewApp
from lark_service.application.usecases.events import CardHandler, EventIntake
from lark_service.application.usecases.keys import ApiKeyService, CreatedApiKey
from lark_service.application.usecases.sending import SendCommand, SendingService

__all__ = [
    "ApiKeyService",
    "AppChanges",
    "AppView",
    "AppsService",
    "CardHandler",
    "CreatedApiKey",
    "EventIntake",
    "NewApp",
    "SendCommand",
    "SendingService",
]
