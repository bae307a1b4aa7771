"""Administering apps (HTTP ``/v1/apps``, the CLI): list, get, add, change, remove, validate.

Views never carry a secret: they say whether an encrypt key or verification token is set,
never what it is.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lark_service.application.manager import ApplicationManager
from lark_service.domain.apps import AppConfig, AppType, EventMode, resolve_base_url
from lark_service.domain.errors import ConfigError


class AppView(msgspec.Struct, frozen=True, kw_only=True):
    """An app as the admin API shows it: everything but the secrets."""

    app_id: str
    name: str
    app_type: AppType
    domain: str
    is_default: bool
    enabled: bool
    has_encrypt_key: bool
    has_verification_token: bool
    event_mode: EventMode  # webhook: Lark POSTs events; websocket: the long connection

    @classmethod
    def of(cls, app: AppConfig) -> AppView:
        return cls(
            app_id=app.app_id,
            name=app.name,
            app_type=app.app_type,
            domain=app.domain,
            is_default=app.is_default,
            enabled=app.enabled,
            has_encrypt_key=bool(app.encrypt_key),
            has_verification_token=bool(app.verification_token),
            event_mode=app.event_mode,
        )


class NewApp(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An app to add (the secrets are write-only)."""

    app_id: str
    app_secret: str
    name: str = ""
    app_type: AppType = AppType.SELF_BUILT
    domain: str = "feishu"
    encrypt_key: str | None = None
    verification_token: str | None = None
    is_default: bool = False
    enabled: bool = True
    event_mode: EventMode = EventMode.WEBHOOK


class AppChanges(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fields to change; absent fields stay. A new ``app_secret`` drops the app's tokens."""

    name: str | None = None
    domain: str | None = None
    app_secret: str | None = None
    encrypt_key: str | None = None
    verification_token: str | None = None
    is_default: bool | None = None
    enabled: bool | None = None
    event_mode: EventMode | None = None


class AppsService:
    """The admin use cases, on the pool's `ApplicationManager`."""

    def __init__(self, manager: ApplicationManager) -> None:
        self._manager = manager

    def list(self) -> list[AppView]:
        return [AppView.of(a) for a in sorted(self._manager.list(), key=lambda a: a.app_id)]

    def get(self, app_id: str) -> AppView:
        """`UnknownAppError` if absent."""
        return AppView.of(self._manager.get(app_id))

    async def add(self, new: NewApp) -> AppView:
        """`ConfigError` if the app exists or a field is invalid."""
        app = msgspec.convert(msgspec.structs.asdict(new), AppConfig)
        resolve_base_url(app.domain)  # ConfigError now rather than at the first call
        return AppView.of(await self._manager.add(app))

    async def update(self, app_id: str, changes: AppChanges) -> AppView:
        fields: dict[str, Any] = {
            k: v for k, v in msgspec.structs.asdict(changes).items() if v is not None
        }
        secret = fields.pop("app_secret", None)
        if secret is not None and not secret:
            raise ConfigError("app_secret must not be empty", app_id=app_id)
        app = self._manager.get(app_id)
        if fields:
            try:
                app = msgspec.convert(
                    {**msgspec.structs.asdict(app), **fields}, AppConfig
                )  # validates the domain and the rest before anything is stored
            except msgspec.ValidationError as exc:
                raise ConfigError(f"invalid change to app {app_id!r}: {exc}") from None
            resolve_base_url(app.domain)
            app = await self._manager.update(app_id, **fields)
        if secret is not None:
            app = await self._manager.rotate_secret(app_id, secret)
        return AppView.of(app)

    async def remove(self, app_id: str) -> None:
        """`UnknownAppError` if absent."""
        await self._manager.remove(app_id)

    async def validate(self, app_id: str) -> AppView:
        """Fetch a fresh token from Lark with the app's credentials (raises if rejected)."""
        await self._manager.validate(app_id)
        return AppView.of(self._manager.get(app_id))
