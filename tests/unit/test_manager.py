"""ApplicationManager: discovery from TOML / env / store, administration, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from lark_service.adapters.memory import in_memory_stores
from lark_service.application import CredentialPool, MessagingClient
from lark_service.domain import AppConfig, AuthError, ConfigError, UnknownAppError
from lark_service.entrypoints.embed import open_pool
from lark_service.testing import InProcessLarkTransport
from lark_service.testing.fake_lark import FakeLark

pytestmark = pytest.mark.anyio


async def test_load_toml(tmp_path: Path, pool: CredentialPool) -> None:
    path = tmp_path / "apps.toml"
    path.write_text(
        '[[apps]]\napp_id = "cli_t1"\napp_secret = "s1"\nname = "HR"\n'
        '[[apps]]\napp_id = "cli_t2"\napp_secret = "s2"\napp_type = "marketplace"\ndomain = "lark"\n'
    )
    apps = await pool.apps.load_toml(path)
    assert [a.app_id for a in apps] == ["cli_t1", "cli_t2"]
    assert pool.apps.get("cli_t2").base_url == "https://open.larksuite.com"
    assert await pool.app_store.get_app("cli_t1") is not None


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('[[apps]]\napp_id = "cli_x"\n', "app_secret"),
        ("not toml at all [", "cannot load"),
        ('[[apps]]\napp_id = "cli_x"\napp_secret = "s"\nbogus = 1\n', "bogus"),
        ('[[apps]]\napp_id = "bad id!"\napp_secret = "s"\n', "invalid app_id"),
        ('[[apps]]\napp_id = "cli_x"\napp_secret = "s"\ndomain = "ftp://x"\n', "invalid domain"),
    ],
)
async def test_bad_toml_is_a_config_error(
    tmp_path: Path, pool: CredentialPool, content: str, match: str | None
) -> None:
    path = tmp_path / "apps.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=match):
        await pool.apps.load_toml(path)


async def test_missing_toml_file(tmp_path: Path, pool: CredentialPool) -> None:
    with pytest.raises(ConfigError, match="cannot load"):
        await pool.apps.load_toml(tmp_path / "absent.toml")


async def test_load_env(pool: CredentialPool) -> None:
    env = {
        "LARK_APP_ID": "cli_env",
        "LARK_APP_SECRET": "e",
        "LARK_APPS__HR__APP_ID": "cli_hr",
        "LARK_APPS__HR__APP_SECRET": "h",
        "LARK_APPS__HR__IS_DEFAULT": "true",
        "UNRELATED": "x",
    }
    apps = await pool.apps.load_env(env)
    assert sorted(a.app_id for a in apps) == ["cli_env", "cli_hr"]
    assert pool.apps.get("cli_hr").is_default


async def test_load_env_missing_secret_is_clear(pool: CredentialPool) -> None:
    with pytest.raises(ConfigError, match="HR"):
        await pool.apps.load_env({"LARK_APPS__HR__APP_ID": "cli_hr"})


async def test_apps_from_store_are_discovered(fake: FakeLark) -> None:
    stores = in_memory_stores()
    fake.add_app("cli_stored", "st")
    await stores.apps.save_app(AppConfig(app_id="cli_stored", app_secret="st"))
    async with open_pool(stores=stores, transport=InProcessLarkTransport(fake)) as pool:
        # level 5: exactly one enabled app -> auto-detected
        assert (await MessagingClient(pool).get_bot_info()).open_id


async def test_add_update_enable_disable_remove(pool: CredentialPool) -> None:
    await pool.apps.add(AppConfig(app_id="cli_new", app_secret="n"))
    with pytest.raises(ConfigError, match="already exists"):
        await pool.apps.add(AppConfig(app_id="cli_new", app_secret="n"))
    app = await pool.apps.update("cli_new", name="Renamed")
    stored = await pool.app_store.get_app("cli_new")
    assert app.name == "Renamed" and stored is not None and stored.name == "Renamed"
    assert not (await pool.apps.disable("cli_new")).enabled
    assert (await pool.apps.enable("cli_new")).enabled
    with pytest.raises(ConfigError):
        await pool.apps.update("cli_new", app_id="other")
    with pytest.raises(ConfigError):
        await pool.apps.update("cli_new", nonsense=1)
    await pool.apps.remove("cli_new")
    with pytest.raises(UnknownAppError):
        pool.apps.get("cli_new")
    assert await pool.app_store.get_app("cli_new") is None


async def test_validate_and_rotate_secret(pool: CredentialPool, fake: FakeLark) -> None:
    assert await pool.apps.validate("cli_app0")
    fake.add_app("cli_app0", "rotated-secret", name="App 0")
    with pytest.raises(AuthError):
        await pool.apps.validate("cli_app0")
    await pool.apps.rotate_secret("cli_app0", "rotated-secret")
    assert await pool.apps.validate("cli_app0")
    assert (await MessagingClient(pool).get_bot_info()).app_name == "App 0"


async def test_auto_detect_needs_exactly_one_enabled(pool: CredentialPool) -> None:
    assert pool.apps.auto_detect() is None
    await pool.apps.disable("cli_app1")
    assert pool.apps.auto_detect() == "cli_app0"
