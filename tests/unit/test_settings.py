"""`Settings`: the environment and the TOML file, typed, with errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from lark_service.domain.errors import ConfigError
from lark_service.entrypoints.settings import Settings, check_database_url, load_settings

PG = "postgresql+asyncpg://lark:hunter2-pw@db.internal:5432/lark"


def test_defaults_without_any_variable() -> None:
    s = load_settings({"XDG_DATA_HOME": "/srv/xdg"})
    assert s.database_url is None and s.secret_key is None and s.admin_key is None
    assert s.data_dir == "/srv/xdg/lark-service"
    assert (s.metrics_enabled, s.metrics_port, s.http_port) == (False, 9090, 8080)
    assert (s.log_level, s.table_prefix, s.refresh_ahead) == ("WARNING", "lark_", 300.0)


def test_every_variable_is_read_and_typed() -> None:
    s = load_settings(
        {
            "LARK_SERVICE_DATABASE_URL": PG,
            "LARK_SERVICE_SECRET_KEY": "k1,k0",
            "LARK_SERVICE_ADMIN_KEY": "adm",
            "LARK_SERVICE_DATA_DIR": "/var/lib/lark",
            "LARK_SERVICE_METRICS_ENABLED": "yes",
            "LARK_SERVICE_METRICS_PORT": "9100",
            "LARK_SERVICE_RATE_LIMIT_URL": "redis://127.0.0.1:6379/0",
            "LARK_SERVICE_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
            "LARK_SERVICE_HTTP_HOST": "0.0.0.0",
            "LARK_SERVICE_HTTP_PORT": "8000",
            "LARK_SERVICE_LOG_LEVEL": "info",
            "LARK_SERVICE_REFRESH_AHEAD": "600",
            "LARK_SERVICE_TABLE_PREFIX": "tenant1_",
        }
    )
    assert s.database_url == PG and s.secret_key == "k1,k0" and s.admin_key == "adm"
    assert s.data_dir == "/var/lib/lark" and s.resolved_data_dir() == Path("/var/lib/lark")
    assert s.metrics_enabled is True and s.metrics_port == 9100
    assert s.rate_limit_url == "redis://127.0.0.1:6379/0"
    assert s.amqp_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert (s.http_host, s.http_port, s.log_level) == ("0.0.0.0", 8000, "INFO")
    assert s.refresh_ahead == 600.0 and s.table_prefix == "tenant1_"


def test_an_empty_variable_means_not_set() -> None:
    s = load_settings({"LARK_SERVICE_DATABASE_URL": "", "LARK_SERVICE_METRICS_PORT": " "})
    assert s.database_url is None and s.metrics_port == 9090


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LARK_SERVICE_METRICS_PORT", "abc"),
        ("LARK_SERVICE_METRICS_PORT", "70000"),
        ("LARK_SERVICE_HTTP_PORT", "0"),
        ("LARK_SERVICE_METRICS_ENABLED", "maybe"),
        ("LARK_SERVICE_LOG_LEVEL", "loud"),
        ("LARK_SERVICE_REFRESH_AHEAD", "-5"),
        ("LARK_SERVICE_DATABASE_URL", "mysql://db/x"),
        ("LARK_SERVICE_TABLE_PREFIX", "bad-prefix;"),
    ],
)
def test_an_invalid_value_is_a_config_error_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings({variable: value})


def test_errors_never_echo_a_secret() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"LARK_SERVICE_DATABASE_URL": "postgresql://lark:hunter2-pw@db/lark"})
    assert "hunter2" not in str(info.value)
    assert "postgresql+asyncpg://lark:***@db/lark" in str(info.value)


def test_the_repr_hides_keys_and_passwords() -> None:
    s = Settings(
        database_url=PG,
        secret_key="very-secret-key",
        new_secret_key="next-secret-key",
        admin_key="admin-secret",
        amqp_url="amqp://guest:amqp-pw@127.0.0.1:5672/",
        rate_limit_url="redis://:redis-pw@127.0.0.1:6379/0",
    )
    for text in (repr(s), str(s), f"{s}"):
        for secret in (
            "very-secret",
            "next-secret",
            "admin-secret",
            "hunter2",
            "amqp-pw",
            "redis-pw",
        ):
            assert secret not in text
        assert "db.internal:5432" in text and "secret_key='***'" in text
    assert "secret_key=None" in repr(Settings())


def test_a_toml_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "lark.toml"
    path.write_text(
        'database_url = "sqlite+aiosqlite:///x.db"\nmetrics_enabled = true\n'
        'metrics_port = 9200\nlog_level = "debug"\n',
        encoding="utf-8",
    )
    s = load_settings({"LARK_SERVICE_CONFIG": str(path), "LARK_SERVICE_METRICS_PORT": "9300"})
    assert s.database_url == "sqlite+aiosqlite:///x.db" and s.metrics_enabled is True
    assert s.metrics_port == 9300 and s.log_level == "DEBUG"
    assert load_settings({}, config_file=path).metrics_port == 9200


def test_a_bad_toml_file_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "lark.toml"
    path.write_text("metrics_port = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path}: metrics_port"):
        load_settings({"LARK_SERVICE_CONFIG": str(path)})
    path.write_text('databse_url = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown settings: databse_url"):
        load_settings({"LARK_SERVICE_CONFIG": str(path)})
    path.write_text("not toml ==\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"LARK_SERVICE_CONFIG": str(path)})
    path.write_text('database_url = "postgresql://db/x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path}: database_url.*postgresql\+asyncpg"):
        load_settings({"LARK_SERVICE_CONFIG": str(path)})
    with pytest.raises(ConfigError, match="LARK_SERVICE_CONFIG: cannot read"):
        load_settings({"LARK_SERVICE_CONFIG": str(tmp_path / "absent.toml")})


@pytest.mark.parametrize(
    ("url", "advice"),
    [
        ("postgresql://u@h:5432/d", "write postgresql+asyncpg://u@h:5432/d"),
        ("postgres://u@h/d", "write postgresql+asyncpg://u@h/d"),
        ("postgresql+psycopg2://u@h/d", "write postgresql+asyncpg://u@h/d"),
        ("sqlite:///var/x.db", "write sqlite+aiosqlite:///var/x.db"),
        ("sqlite://", "sqlite+aiosqlite:///PATH"),
        ("mysql+aiomysql://u@h/d", "unsupported database 'mysql'"),
        ("just-a-path.db", "not a database URL"),
    ],
)
def test_unusable_database_urls_say_what_to_write(url: str, advice: str) -> None:
    with pytest.raises(ConfigError, match="--database-url") as info:
        check_database_url(url, "--database-url")
    assert advice in str(info.value)


def test_usable_database_urls_pass() -> None:
    check_database_url(PG, "x")
    check_database_url("sqlite+aiosqlite:///tmp/x.db", "x")
    check_database_url("sqlite+aiosqlite://", "x")


def test_replace_ignores_none_and_validates() -> None:
    s = Settings(metrics_port=9100)
    assert s.replace(database_url=None) is s
    assert s.replace(metrics_port=9200).metrics_port == 9200
    with pytest.raises(ConfigError, match="unknown settings: nonsense"):
        s.replace(nonsense=1)
    with pytest.raises(ConfigError, match="metrics_port"):
        s.replace(metrics_port=-1)
    with pytest.raises(ConfigError, match="asyncpg"):
        s.replace(database_url="postgresql://h/d")


def test_upkeep_periods_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "lark.toml"
    path.write_text(
        "upkeep_enabled = false\nupkeep_token_refresh_interval = 30\njob_retention = 3600\n",
        encoding="utf-8",
    )
    s = load_settings(
        {"LARK_SERVICE_CONFIG": str(path), "LARK_SERVICE_UPKEEP_TOKEN_REFRESH_INTERVAL": "15"}
    )
    assert (s.upkeep_enabled, s.upkeep_token_refresh_interval, s.job_retention) == (
        False,
        15.0,
        3600.0,
    )
    assert (s.upkeep_grant_check_interval, s.grant_session_retention) == (600.0, 86400.0)
    path.write_text("upkeep_event_prune_interval = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path}: upkeep_event_prune_interval"):
        load_settings({"LARK_SERVICE_CONFIG": str(path)})
    with pytest.raises(ConfigError, match="upkeep_job_prune_interval"):
        Settings().replace(upkeep_job_prune_interval=-1)


def test_the_event_dedup_retention_is_at_least_a_day() -> None:
    assert Settings().event_dedup_retention == 7 * 86400.0
    s = load_settings({"LARK_SERVICE_EVENT_DEDUP_RETENTION": "86400"})
    assert s.event_dedup_retention == 86400.0
    # shorter than Lark's redelivery window (~7 h): a late redelivery would be handled twice
    for value in ("25200", "0", "-1"):
        with pytest.raises(ConfigError, match="LARK_SERVICE_EVENT_DEDUP_RETENTION"):
            load_settings({"LARK_SERVICE_EVENT_DEDUP_RETENTION": value})
    with pytest.raises(ConfigError, match=r"event_dedup_retention\): at least 86400 seconds"):
        Settings(event_dedup_retention=3600.0)
    with pytest.raises(ConfigError, match="event_dedup_retention"):
        Settings().replace(event_dedup_retention=60)


def test_the_settings_page_documents_every_setting_with_its_default() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "usage" / "settings.md").read_text()
    rows: dict[str, str] = {}  # TOML key -> its default cell (a row may hold two keys)
    for line in page.splitlines():
        cells = line.split("|")
        if line.startswith("| `") and len(cells) > 4:
            keys = [k.strip(" `") for k in cells[2].split(",")]
            defaults = [d.strip(" `") for d in cells[3].split(",")]
            defaults = defaults if len(defaults) == len(keys) else [cells[3].strip(" `")] * 2
            rows.update(zip(keys, defaults, strict=False))
    for field in msgspec.structs.fields(Settings):
        row = rows.get(field.name)
        assert row is not None, f"docs/usage/settings.md has no row for {field.name}"
        default = field.default
        if isinstance(default, bool):
            assert row == str(default).lower(), field.name
        elif isinstance(default, float | int) and default:
            assert row == f"{default:g}", field.name
        elif isinstance(default, str) and default:
            assert row == default, field.name
