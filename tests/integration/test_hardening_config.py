"""Issue 7 item 6: ``open_pool(base_url=)`` redirects every app; bare-token clients refuse
to be pointed at an app (``app_id=``, ``use_app``) instead of silently ignoring it."""

from __future__ import annotations

import pytest

from lark_service.application import MessagingClient
from lark_service.application.resolution import use_app
from lark_service.domain import AppConfig, ConfigError
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark

pytestmark = pytest.mark.anyio


async def test_base_url_redirects_apps_of_every_domain(fake: FakeLark, base_url: str) -> None:
    fake.add_app("cli_larkapp", "secret-larkapp")
    fake.add_app("cli_feishuapp", "secret-feishuapp")
    apps = [
        AppConfig(app_id="cli_larkapp", app_secret="secret-larkapp", domain="lark"),
        AppConfig(app_id="cli_feishuapp", app_secret="secret-feishuapp", domain="feishu"),
        AppConfig(app_id="cli_urlapp", app_secret="s", domain="https://open.example.com"),
    ]
    async with open_pool(apps=apps, base_url=base_url) as pool:
        for app_id in ("cli_larkapp", "cli_feishuapp", "cli_urlapp"):
            assert pool.resolve(app_id).base_url == base_url.rstrip("/")
        info = await MessagingClient(pool).get_bot_info(app_id="cli_larkapp")
    assert info.app_name == "cli_larkapp"  # the fake answered, not the real Lark host
    assert fake.token_requests("cli_larkapp") == 1


async def test_bare_token_client_refuses_app_id_in_constructor() -> None:
    with pytest.raises(ConfigError, match="app_id"):
        MessagingClient(access_token="t-fixed", app_id="cli_other")


async def test_bare_token_client_refuses_app_id_and_use_app_per_call(
    fake: FakeLark, base_url: str
) -> None:
    async with MessagingClient(access_token="t-fixed", base_url=base_url) as client:
        with pytest.raises(ConfigError, match="app_id"):
            await client.send_text("oc_chat1", "hi", app_id="cli_other")
        with use_app("cli_other"), pytest.raises(ConfigError, match="use_app"):
            await client.send_text("oc_chat1", "hi")
    assert fake.requests == []
