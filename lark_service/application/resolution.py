"""The app-resolution policy: which app a call is made as.

Priority, highest first:
  1. the method's ``app_id=`` argument;
  2. the innermost ``use_app("cli_x")`` context (task-local, nestable, sync or async ``with``);
  3. the client's default (``MessagingClient(pool, app_id=...)``);
  4. the pool's default (``default_app_id=``, else the app marked ``is_default``);
  5. auto-detection: exactly one enabled app.

An unknown or disabled app at any level is an error naming that app, never a fall-through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from types import TracebackType

from lark_service.domain.apps import AppConfig
from lark_service.domain.errors import AppDisabledError, NoAppResolvedError, UnknownAppError

_context_app: ContextVar[str | None] = ContextVar("lark_service_app_id", default=None)


class use_app:
    """Make ``app_id`` the app for calls inside the block (level 2 of the policy)."""

    __slots__ = ("_app_id", "_tokens")

    def __init__(self, app_id: str) -> None:
        self._app_id = app_id
        self._tokens: list[Token[str | None]] = []

    def __enter__(self) -> str:
        self._tokens.append(_context_app.set(self._app_id))
        return self._app_id

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _context_app.reset(self._tokens.pop())

    async def __aenter__(self) -> str:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def current_context_app() -> str | None:
    """The app chosen by the innermost ``use_app`` in this task, if any."""
    return _context_app.get()


class AppResolver:
    """Applies the policy over the pool's registry of apps. Pure: no I/O."""

    def __init__(
        self,
        apps: Mapping[str, AppConfig],
        *,
        default_app_id: str | None = None,
        auto_detect: Callable[[], str | None] | None = None,
    ) -> None:
        self._apps = apps
        self.default_app_id = default_app_id
        self._auto_detect = auto_detect

    def resolve(self, app_id: str | None = None, client_default: str | None = None) -> AppConfig:
        """Return the app a call is made as, or raise an ``AppResolutionError``."""
        chosen = app_id or _context_app.get() or client_default or self._pool_default()
        if chosen is None and self._auto_detect is not None:
            chosen = self._auto_detect()
        if chosen is None:
            known = ", ".join(sorted(self._apps)) or "none"
            raise NoAppResolvedError(
                "no app given for this call and no default app: pass app_id=, use "
                f"use_app(...), or set a default (apps known: {known})"
            )
        app = self._apps.get(chosen)
        if app is None:
            known = ", ".join(sorted(self._apps)) or "none"
            raise UnknownAppError(f"unknown app {chosen!r} (apps known: {known})", app_id=chosen)
        if not app.enabled:
            raise AppDisabledError(f"app {chosen!r} is disabled", app_id=chosen)
        return app

    def _pool_default(self) -> str | None:
        if self.default_app_id:
            return self.default_app_id
        for app in self._apps.values():
            if app.is_default:
                return app.app_id
        return None
