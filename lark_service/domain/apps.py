"""The Lark app as configured by its owner: identity, secrets and how to reach it."""

from __future__ import annotations

import enum
import re

import msgspec

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

    def __post_init__(self) -> None:
        if not _APP_ID.match(self.app_id):
            from lark_service.domain.errors import ConfigError

            raise ConfigError(f"invalid app_id {self.app_id!r}: expected letters, digits, _ or -")
        if not self.app_secret:
            from lark_service.domain.errors import ConfigError

            raise ConfigError(f"app {self.app_id}: app_secret is empty")

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
    """Map ``feishu`` / ``lark`` / a URL to the API base URL."""
    if domain == Domain.FEISHU.value:
        return FEISHU_BASE_URL
    if domain == Domain.LARK.value:
        return LARK_BASE_URL
    if domain.startswith(("http://", "https://")):
        return domain.rstrip("/")
    from lark_service.domain.errors import ConfigError

    raise ConfigError(f"invalid domain {domain!r}: expected 'feishu', 'lark' or an http(s) URL")
