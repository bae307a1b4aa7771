"""What the HTTP routes need, handed to `create_app` by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from litestar.di import NamedDependency

from lark_service.application.clients.contact import ContactClient
from lark_service.application.clients.docs import DocClient
from lark_service.application.clients.messaging import MessagingClient
from lark_service.application.clients.tables import WorkspaceTableClient
from lark_service.application.pool import CredentialPool
from lark_service.application.usecases.apps import AppsService
from lark_service.application.usecases.events import EventIntake
from lark_service.application.usecases.grants import GrantService
from lark_service.application.usecases.keys import ApiKeyService
from lark_service.application.usecases.sending import SendingService
from lark_service.domain.ports.events import EventBus

# A readiness check returns ``None`` when its dependency is usable, else the reason.
ReadinessCheck = Callable[[], Awaitable[str | None]]

DEFAULT_MAX_BODY_SIZE = 1024 * 1024  # Lark's largest message content is 150 KB


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    """The use cases and clients the routes call, and the checks behind ``/readyz``."""

    pool: CredentialPool
    sending: SendingService
    apps: AppsService
    keys: ApiKeyService
    messaging: MessagingClient
    contact: ContactClient
    docs: DocClient
    tables: WorkspaceTableClient
    events: EventIntake
    bus: EventBus
    readiness: Sequence[tuple[str, ReadinessCheck]] = ()
    grants: GrantService | None = None  # None: the /v1/users/*/grant routes answer 503
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    readiness_timeout: float = 2.0


# how a route handler asks for the services (Litestar's named dependency ``services``)
ServicesDep = NamedDependency[Services]
