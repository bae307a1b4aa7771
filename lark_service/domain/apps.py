"""The Lark app as configured by its owner: identity, secrets and how to reach it."""

from __future__ import annotations

import enum
import re
from typing import Any
from urllib.parse import urlsplit

import msgspec

from lark_service.domain.errors import ConfigError

FEISHU_BASE_URL = "https://open.feishu.cn"
LARK_BASE_URL = "https://open.larksuite.com"

_APP_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class AppType(enum.StrEnum):
    """How the app is distributed: built by the tenant itself, or bought from the app store."""

    SELF_BUILT = "self_built"
    MARKETPLACE = "marketplace"


class Domain(enum.StrEnum):
    """The Lark brand an app belongs to; each brand has its own API host."""

    FEISHU = "feishu"
    LARK = "lark"


class EventMode(enum.StrEnum):
    """How Lark delivers the app's events and card callbacks."""

    WEBHOOK = "webhook"  # Lark POSTs them to our public URL
    WEBSOCKET = "websocket"  # the app dials Lark's long connection (no public URL needed)


class AppConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One Lark app's credentials and settings.

    Secrets (`app_secret`, `encrypt_key`, `verification_token`) never appear in `repr()`.
    `domain` is ``"feishu"``, ``"lark"`` or a base URL such as ``http://127.0.0.1:8089``.
    """

    app_id: str
    app_secret: str
    name: str = ""
    app_type: AppType = AppType.SELF_BUILT
    domain: str = Domain.FEISHU.value
    encrypt_key: str | None = None
    verification_token: str | None = None
    is_default: bool = False
    enabled: bool = True
    event_mode: EventMode = EventMode.WEBHOOK

    def __post_init__(self) -> None:
        # msgspec checks types when decoding, not in __init__: check every field here so a
        # hand-built config is as safe as a decoded one.
        if not isinstance(self.app_id, str) or not _APP_ID.fullmatch(self.app_id):
            raise ConfigError(
                f"invalid app_id {_short(self.app_id)}: expected 1 to 64 letters, digits, _ or -"
            )
        if not isinstance(self.app_secret, str) or not self.app_secret.strip():
            raise ConfigError(f"app {self.app_id}: app_secret must be a non-empty str")
        _check_text(self.app_secret, "app_secret", self.app_id)
        _check_text(self.name, "name", self.app_id)
        for field in ("encrypt_key", "verification_token"):
            value = getattr(self, field)
            if value is not None:
                _check_text(value, field, self.app_id)
        for field in ("is_default", "enabled"):
            if not isinstance(getattr(self, field), bool):
                raise ConfigError(f"app {self.app_id}: {field} must be True or False")
        if not isinstance(self.app_type, AppType):
            try:
                app_type = AppType(self.app_type)
            except ValueError:
                raise ConfigError(
                    f"app {self.app_id}: app_type must be one of "
                    f"{[t.value for t in AppType]}, not {_short(self.app_type)}"
                ) from None
            msgspec.structs.force_setattr(self, "app_type", app_type)
        if not isinstance(self.event_mode, EventMode):
            try:
                event_mode = EventMode(self.event_mode)
            except ValueError:
                raise ConfigError(
                    f"app {self.app_id}: event_mode must be one of "
                    f"{[m.value for m in EventMode]}, not {_short(self.event_mode)}"
                ) from None
            msgspec.structs.force_setattr(self, "event_mode", event_mode)
        if not isinstance(self.domain, str):
            raise ConfigError(f"app {self.app_id}: domain must be a str")
        resolve_base_url(self.domain)

    @property
    def base_url(self) -> str:
        """The API host this app talks to, without a trailing slash."""
        return resolve_base_url(self.domain)

    @property
    def is_marketplace(self) -> bool:
        return self.app_type == AppType.MARKETPLACE

    def __repr__(self) -> str:
        return (
            f"AppConfig(app_id={self.app_id!r}, name={self.name!r}, "
            f"app_type={self.app_type.value!r}, domain={self.domain!r}, "
            f"is_default={self.is_default}, enabled={self.enabled}, app_secret='***')"
        )

    __str__ = __repr__


def resolve_base_url(domain: str) -> str:
    """Map ``feishu`` / ``lark`` / a URL to the API base URL.

    A URL is ``http(s)://host[:port]``: a path, query, fragment or user info would change
    every request's route (and could carry credentials), so they are refused."""
    if domain == Domain.FEISHU.value:
        return FEISHU_BASE_URL
    if domain == Domain.LARK.value:
        return LARK_BASE_URL
    if isinstance(domain, str) and domain.startswith(("http://", "https://")):
        _check_text(domain, "domain", "")
        try:
            parts = urlsplit(domain)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if (
            parts is None
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
            or not domain.isascii()
            or any(c.isspace() for c in domain)
        ):
            raise ConfigError(
                f"invalid domain {_short(domain)}: expected http(s)://host[:port] "
                "with no path, query or user info"
            )
        del port
        return domain.rstrip("/")
    raise ConfigError(
        f"invalid domain {_short(domain)}: expected 'feishu', 'lark' or an http(s) URL"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_text(value: Any, field: str, app_id: str) -> None:
    where = f"app {app_id}: " if app_id else ""
    if not isinstance(value, str):
        raise ConfigError(f"{where}{field} must be a str, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{where}{field} holds a lone surrogate") from None
