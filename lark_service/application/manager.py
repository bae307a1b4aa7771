"""`ApplicationManager`: discovers and administers the pool's apps.

Sources: a TOML file (``[[apps]]`` tables), environment variables, and the credential store.
Environment variables: ``LARK_APP_ID`` / ``LARK_APP_SECRET`` (one app, plus optional
``LARK_APP_NAME``, ``LARK_APP_DOMAIN``, ``LARK_APP_TYPE``), and any number of
``LARK_APPS__<ALIAS>__APP_ID`` / ``__APP_SECRET`` / ``__NAME`` / ``__DOMAIN`` /
``__APP_TYPE`` / ``__IS_DEFAULT`` / ``__ENABLED`` / ``__ENCRYPT_KEY`` /
``__VERIFICATION_TOKEN`` groups (the last two authenticate Lark's pushes to the app; also
``LARK_APP_ENCRYPT_KEY`` / ``LARK_APP_VERIFICATION_TOKEN`` for the single app).
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import msgspec

from lark_service.domain.apps import AppConfig
from lark_service.domain.errors import ConfigError, UnknownAppError
from lark_service.domain.ports.apps import AppStore
from lark_service.domain.ports.tokens import TokenStore
from lark_service.domain.tokens import AccessToken, TokenKey, TokenKind

_TRUE = {"1", "true", "yes", "on"}


class TokenCache(Protocol):
    """What the manager needs from the pool's token cache (the pool is one)."""

    def forget_tokens(self, app_id: str) -> None: ...

    async def fetch_token(self, app: AppConfig, kind: TokenKind, tenant_key: str) -> AccessToken:
        """A fresh token from Lark, bypassing the cache and the store."""
        ...


class _AppsFile(msgspec.Struct, forbid_unknown_fields=True):
    apps: list[AppConfig] = []


class ApplicationManager:
    """Adds, changes and removes apps in the pool's registry and in the app store.

    ``registry`` is the pool's live mapping of apps (shared, not copied), so a change here
    is seen by the next call's app resolution.
    """

    def __init__(
        self,
        registry: dict[str, AppConfig],
        *,
        app_store: AppStore,
        token_store: TokenStore,
        tokens: TokenCache,
    ) -> None:
        self._apps = registry
        self._app_store = app_store
        self._token_store = token_store
        self._tokens = tokens

    def register(self, app: AppConfig) -> None:
        """Put ``app`` in the registry only (not in the store); it may replace the default."""
        if app.is_default:  # one default at most, as in the store
            for other in [a for a in self._apps.values() if a.is_default]:
                if other.app_id != app.app_id:
                    self._apps[other.app_id] = msgspec.structs.replace(other, is_default=False)
        self._apps[app.app_id] = app

    async def _save(self, app: AppConfig) -> AppConfig:
        await self._app_store.save_app(app)
        self.register(app)
        return app

    # -- discovery ---------------------------------------------------------------------

    def auto_detect(self) -> str | None:
        """Level 5 of resolution: the only enabled app, if there is exactly one."""
        enabled = [a.app_id for a in self._apps.values() if a.enabled]
        return enabled[0] if len(enabled) == 1 else None

    async def load_store(self) -> list[AppConfig]:
        """Register every app the credential store holds."""
        apps = await self._app_store.list_apps()
        for app in apps:
            self.register(app)
        return apps

    async def load_toml(self, path: str | Path) -> list[AppConfig]:
        """Register (and store) the apps of a TOML file of ``[[apps]]`` tables."""
        try:
            text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
            raw = tomllib.loads(text)
            apps = msgspec.convert(raw, _AppsFile).apps
        except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
            raise ConfigError(f"cannot load apps from {path}: {exc}") from None
        return await self._add_all(apps)

    async def load_env(self, environ: Mapping[str, str]) -> list[AppConfig]:
        """Register (and store) the apps described by environment variables."""
        groups: dict[str, dict[str, Any]] = {}
        if environ.get("LARK_APP_ID"):
            groups["LARK_APP"] = {
                "app_id": environ["LARK_APP_ID"],
                "app_secret": environ.get("LARK_APP_SECRET", ""),
                "name": environ.get("LARK_APP_NAME", ""),
                "domain": environ.get("LARK_APP_DOMAIN", "feishu"),
                "app_type": environ.get("LARK_APP_TYPE", "self_built"),
            }
            for field in ("encrypt_key", "verification_token", "event_mode"):
                if environ.get(f"LARK_APP_{field.upper()}"):
                    groups["LARK_APP"][field] = environ[f"LARK_APP_{field.upper()}"]
        for var, value in environ.items():
            parts = var.split("__")
            if len(parts) == 3 and parts[0] == "LARK_APPS":
                field = parts[2].lower()
                if field in ("is_default", "enabled"):
                    groups.setdefault(parts[1], {})[field] = value.lower() in _TRUE
                else:
                    groups.setdefault(parts[1], {})[field] = value
        apps: list[AppConfig] = []
        for alias, fields in sorted(groups.items()):
            try:
                apps.append(msgspec.convert(fields, AppConfig))
            except (msgspec.ValidationError, ConfigError) as exc:
                # msgspec errors name fields, never values, so they cannot leak a secret
                raise ConfigError(f"environment app {alias}: {exc}") from None
        return await self._add_all(apps)

    async def _add_all(self, apps: list[AppConfig]) -> list[AppConfig]:
        for app in apps:
            await self._save(app)
        return apps

    # -- administration ----------------------------------------------------------------

    def list(self) -> list[AppConfig]:
        """Every app the pool knows, enabled or not."""
        return list(self._apps.values())

    def get(self, app_id: str) -> AppConfig:
        """One app; ``UnknownAppError`` if absent."""
        app = self._apps.get(app_id)
        if app is None:
            raise UnknownAppError(f"unknown app {app_id!r}", app_id=app_id)
        return app

    async def add(self, app: AppConfig) -> AppConfig:
        """Add a new app; ``ConfigError`` if the app_id exists."""
        if app.app_id in self._apps:
            raise ConfigError(f"app {app.app_id!r} already exists", app_id=app.app_id)
        return await self._save(app)

    async def update(self, app_id: str, /, **changes: Any) -> AppConfig:
        """Change fields of an app (name, domain, is_default, enabled, ...)."""
        if "app_id" in changes:
            raise ConfigError("app_id cannot be changed; remove and add the app instead")
        try:
            app = msgspec.structs.replace(self.get(app_id), **changes)
        except TypeError as exc:
            raise ConfigError(f"invalid change to app {app_id!r}: {exc}", app_id=app_id) from None
        return await self._save(app)

    async def set_default(self, app_id: str) -> AppConfig:
        """Make ``app_id`` the default app (level 4 of resolution); no other app stays one."""
        return await self.update(app_id, is_default=True)

    async def enable(self, app_id: str) -> AppConfig:
        return await self.update(app_id, enabled=True)

    async def disable(self, app_id: str) -> AppConfig:
        return await self.update(app_id, enabled=False)

    async def remove(self, app_id: str) -> None:
        """Remove the app, its stored tokens and grants."""
        self.get(app_id)
        await self._app_store.delete_app(app_id)
        self._apps.pop(app_id, None)
        self._tokens.forget_tokens(app_id)

    async def rotate_secret(self, app_id: str, new_secret: str) -> AppConfig:
        """Replace the app_secret; cached and stored tokens of the app are dropped."""
        app = await self.update(app_id, app_secret=new_secret)
        self._tokens.forget_tokens(app_id)
        for kind in (TokenKind.TENANT, TokenKind.APP):
            await self._token_store.delete_token(TokenKey(app_id=app_id, kind=kind))
        return app

    async def validate(self, app_id: str) -> bool:
        """Prove the credentials work by fetching a fresh token from Lark (raises if not)."""
        app = self.get(app_id)
        kind = TokenKind.APP if app.is_marketplace else TokenKind.TENANT
        await self._tokens.fetch_token(app, kind, "")
        return True
