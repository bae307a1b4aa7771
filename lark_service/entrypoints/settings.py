"""`Settings`: every setting of lark-service, read in this one module.

Sources, lowest priority first:

1. the defaults below;
2. a TOML file named by ``LARK_SERVICE_CONFIG`` (flat keys, the field names below:
   ``database_url = "postgresql+asyncpg://..."``, ``metrics_enabled = true``);
3. environment variables ``LARK_SERVICE_<FIELD>`` (``LARK_SERVICE_DATABASE_URL``, ...);
4. explicit overrides (command-line options, ``open_pool`` arguments) via `Settings.replace`.

A value that does not parse is a ``ConfigError`` naming the variable (or the file and key),
never echoing a secret. Secrets (keys, passwords inside URLs) never appear in the repr.
Nothing else in lark-service reads the environment.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import msgspec

from lark_service.application.usecases.events import DEFAULT_DEDUP_TTL
from lark_service.domain.errors import ConfigError

__all__ = ["CONFIG_ENV", "ENV_PREFIX", "Settings", "check_database_url", "load_settings"]

ENV_PREFIX = "LARK_SERVICE_"
CONFIG_ENV = "LARK_SERVICE_CONFIG"

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# Fields whose whole value is secret, and URL fields that may carry a password.
SECRET_FIELDS = frozenset({"secret_key", "new_secret_key", "admin_key"})
URL_FIELDS = frozenset({"database_url", "amqp_url", "rate_limit_url", "otlp_endpoint"})
# Fields read from a standard variable instead of LARK_SERVICE_<FIELD>.
STANDARD_ENV = {"otlp_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT"}

# Lark retries an event it could not deliver 4 times, 15 s, 5 min, 1 h and 6 h apart (the
# last about 7.1 h after the first try): a dedup entry must outlive that, with a margin
MIN_EVENT_DEDUP_RETENTION = 86400.0
_PREFIX = re.compile(r"[A-Za-z0-9_]{0,32}")
_BOOL_FIELDS = frozenset({"metrics_enabled", "upkeep_enabled"})
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Typed settings; build with `load_settings()` (or directly, in tests).

    The ``upkeep_*`` periods, ``grant_session_retention`` and ``job_retention`` time the
    scheduled upkeep of ``serve`` (`entrypoints.upkeep`); each must be > 0 seconds.
    """

    database_url: str | None = None
    """SQLAlchemy URL of the credential store (``postgresql+asyncpg://`` or
    ``sqlite+aiosqlite:///``); ``None``: in memory for ``open_pool``, the embedded SQLite
    file in ``data_dir`` for the command line."""
    secret_key: str | None = None
    """Key(s) encrypting secrets at rest, ``"new,old"`` while rotating."""
    new_secret_key: str | None = None
    """The key ``lark-service secret-key rotate`` switches to."""
    admin_key: str | None = None
    """The HTTP API's bootstrap admin key."""
    data_dir: str = ""
    """Where the embedded SQLite store lives; default ``$XDG_DATA_HOME/lark-service``."""
    table_prefix: str = "lark_"
    refresh_ahead: Seconds = 300.0
    """Refresh a token this many seconds before it expires."""
    base_url: str | None = None
    """Send every app's calls to this host instead of Lark (a fake Lark server, a proxy)."""
    metrics_enabled: bool = False
    metrics_port: Port = 9090
    # scraped by Prometheus from another container (compose): every interface by default
    metrics_host: str = "0.0.0.0"  # noqa: S104  # nosec B104
    service_name: str = "lark-service"
    """``service.name`` of the metrics and traces (``lark-service-worker`` for the worker)."""
    otlp_endpoint: str | None = None
    """OTLP/HTTP collector base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``, e.g.
    ``http://collector:4318``): spans are exported to its ``/v1/traces``; ``None``: no traces."""
    rate_limit_url: str | None = None
    """Redis URL shared by replicas for Lark's rate limits; ``None``: per process."""
    amqp_url: str | None = None
    amqp_prefix: str = ""
    """Put before every RabbitMQ queue name, to keep deployments (or test runs) on one vhost
    apart."""
    send_max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    """Deliveries of a queued send before it goes to the dead-letter queue."""
    send_retry_delays: tuple[Seconds, ...] = (1.0, 5.0, 30.0, 120.0)
    """Seconds before the 1st, 2nd, ... retry of a queued send (the last one repeats);
    ``LARK_SERVICE_SEND_RETRY_DELAYS=1,5,30``."""
    apps_file: str | None = None
    """A TOML file of apps (``[[apps]]``) that ``serve`` and ``worker`` load at start."""
    http_host: str = "127.0.0.1"
    http_port: Port = 8080
    log_level: LogLevel = "WARNING"
    upkeep_enabled: bool = True
    """Run the scheduled upkeep in this ``serve`` replica (each job runs in one replica at a
    time across those that have it on); ``false`` leaves it to the others."""
    upkeep_token_refresh_interval: Seconds = 60.0
    """Seconds between refreshes of idle apps' tenant tokens close to expiry (within
    ``refresh_ahead``)."""
    upkeep_grant_check_interval: Seconds = 600.0
    """Seconds between checks for user grants about to lapse (users are prompted)."""
    upkeep_session_prune_interval: Seconds = 3600.0
    """Seconds between prunings of grant (OAuth) sessions."""
    upkeep_event_prune_interval: Seconds = 600.0
    """Seconds between prunings of expired webhook dedup entries."""
    upkeep_job_prune_interval: Seconds = 3600.0
    """Seconds between prunings of old send-job records."""
    grant_session_retention: Seconds = 86400.0
    """Keep ended grant sessions this many seconds before pruning them."""
    job_retention: Seconds = 7 * 86400.0
    """Keep send-job records this many seconds after their last change before pruning them."""
    event_dedup_retention: Seconds = DEFAULT_DEDUP_TTL
    """Remember a handled event's id this many seconds, so that Lark's redeliveries of it are
    dropped (the upkeep prunes the entries after). At least 86400 (1 day): Lark retries a
    failed delivery for hours (its last try about 7 h after the first), and a redelivery
    arriving after its entry is gone would be handled, and published, a second time."""

    def __post_init__(self) -> None:
        if self.database_url is not None:
            check_database_url(self.database_url, "database_url")
        if self.rate_limit_url is not None and not self.rate_limit_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ConfigError(
                f"{ENV_PREFIX}RATE_LIMIT_URL: write redis://HOST:6379/0 (or rediss://); "
                "unset for per-process limits"
            )
        if self.otlp_endpoint is not None and not self.otlp_endpoint.startswith(
            ("http://", "https://")
        ):
            raise ConfigError(
                f"{STANDARD_ENV['otlp_endpoint']}: write http://HOST:4318 (OTLP over HTTP); "
                "unset for no traces"
            )
        if self.event_dedup_retention < MIN_EVENT_DEDUP_RETENTION:
            raise ConfigError(
                f"{ENV_PREFIX}EVENT_DEDUP_RETENTION (event_dedup_retention): at least "
                f"{MIN_EVENT_DEDUP_RETENTION:g} seconds (1 day), since Lark redelivers a failed "
                f"event for hours (got {self.event_dedup_retention:g})"
            )
        if not _PREFIX.fullmatch(self.table_prefix):
            raise ConfigError(
                f"{ENV_PREFIX}TABLE_PREFIX: use letters, digits and '_' only "
                f"(got {self.table_prefix!r})"
            )

    def __repr__(self) -> str:
        shown = []
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is not None and name in SECRET_FIELDS:
                value = "***"
            elif value is not None and name in URL_FIELDS:
                value = redact_url(value)
            shown.append(f"{name}={value!r}")
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (``None`` values are ignored: "not given")."""
        given = {k: v for k, v in changes.items() if v is not None}
        unknown = set(given) - set(self.__struct_fields__)
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        if not given:
            return self
        changed: Self = _convert({**msgspec.structs.asdict(self), **given}, str, type(self))
        return changed

    def resolved_data_dir(self) -> Path:
        return Path(self.data_dir).expanduser()


def redact_url(url: str) -> str:
    """``url`` with the password (if any) replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, tail = rest.partition("/")
    userinfo, at, host = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}{slash}{tail}"


def check_database_url(url: str, source: str) -> None:
    """``ConfigError`` naming ``source`` and what to write instead, for a URL we cannot use."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or not scheme:
        raise ConfigError(
            f"{source}: not a database URL; write postgresql+asyncpg://USER@HOST:5432/DB "
            "or sqlite+aiosqlite:///PATH"
        )
    backend, _, driver = scheme.partition("+")
    if backend in ("postgresql", "postgres") and driver != "asyncpg":
        fixed = redact_url(f"postgresql+asyncpg://{rest}")
        raise ConfigError(
            f"{source}: lark-service talks to PostgreSQL through asyncpg; write {fixed}"
        )
    if backend == "sqlite" and driver != "aiosqlite":
        fixed = f"sqlite+aiosqlite://{rest}" if rest else "sqlite+aiosqlite:///PATH"
        raise ConfigError(f"{source}: lark-service opens SQLite through aiosqlite; write {fixed}")
    if backend not in ("postgresql", "postgres", "sqlite"):
        raise ConfigError(
            f"{source}: unsupported database {backend!r}; use postgresql+asyncpg:// "
            "or sqlite+aiosqlite:///"
        )


def default_data_dir(environ: Mapping[str, str]) -> str:
    """``$XDG_DATA_HOME/lark-service``, else ``~/.local/share/lark-service``."""
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base).expanduser() / "lark-service")


def _env_name(field: str) -> str:
    return STANDARD_ENV.get(field) or f"{ENV_PREFIX}{field.upper()}"


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for field in Settings.__struct_fields__:
        value = environ.get(_env_name(field))
        if value is None:
            continue
        value = value.strip()
        if not value:
            continue  # an empty variable means "not set"
        if field in _BOOL_FIELDS:
            low = value.lower()
            if low not in _TRUE | _FALSE:  # not a secret: safe to echo
                raise ConfigError(f"{_env_name(field)}: expected true or false, got {value!r}")
            raw[field] = low in _TRUE
        elif field == "log_level":
            raw[field] = value.upper()
        elif field == "send_retry_delays":
            raw[field] = [part.strip() for part in value.split(",")]
        else:
            raw[field] = value
    return raw


def _from_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{CONFIG_ENV}: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{CONFIG_ENV}: {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(Settings.__struct_fields__))
    if unknown:
        raise ConfigError(f"{path}: unknown settings: {', '.join(unknown)}")
    if isinstance(data.get("log_level"), str):
        data["log_level"] = data["log_level"].upper()
    return data


def _convert(raw: Mapping[str, Any], name_of: Any, cls: type[Settings] = Settings) -> Any:  # -> cls
    try:
        return msgspec.convert(dict(raw), cls, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_describe(exc, name_of)) from None


def _describe(exc: msgspec.ValidationError, name_of: Any) -> str:
    """msgspec's message with ``$.field`` replaced by the variable's name.

    msgspec names the expected type and the path, never the value, so a secret cannot leak.
    """
    message = str(exc)
    problem, _, path = message.rpartition(" - at `$.")
    if not path:
        return f"invalid settings: {message}"
    field = path.rstrip("`").split(".")[0].split("[")[0]
    return f"{name_of(field)}: {problem}"


def load_settings(
    environ: Mapping[str, str] | None = None, *, config_file: str | Path | None = None
) -> Settings:
    """Settings from ``LARK_SERVICE_CONFIG`` (or ``config_file``) and the environment.

    ``environ`` defaults to ``os.environ`` (tests pass a dict).
    """
    env = os.environ if environ is None else environ
    path_text = str(config_file) if config_file is not None else env.get(CONFIG_ENV, "").strip()
    from_file = _from_file(Path(path_text).expanduser()) if path_text else {}
    from_env = _from_env(env)

    def name_of(field: str) -> str:
        if field in from_env or not path_text:
            return _env_name(field)
        return f"{path_text}: {field}"

    raw: dict[str, Any] = {**from_file, **from_env}
    if not raw.get("data_dir"):
        raw["data_dir"] = default_data_dir(env)
    if isinstance(raw.get("database_url"), str):
        check_database_url(raw["database_url"], name_of("database_url"))
    settings: Settings = _convert(raw, name_of)
    return settings
