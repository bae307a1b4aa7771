"""``lark-service demo``: the pool at work against the built-in fake Lark server."""

from __future__ import annotations

import asyncio
import time

from lark_service.adapters.lark_http import RetryPolicy
from lark_service.adapters.memory import InMemoryMetrics
from lark_service.application import MessagingClient, use_app
from lark_service.domain import AppConfig
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark, serve_in_thread

DEMO_APPS = (
    ("cli_demo_alerts", "Alerting bot"),
    ("cli_demo_hr", "HR bot"),
)


def _say(text: str = "") -> None:
    print(text, flush=True)


async def run_demo(*, calls: int = 1000) -> int:
    """Run the demo; returns the process exit code."""
    fake = FakeLark()
    apps = []
    for app_id, name in DEMO_APPS:
        secret = f"demo-secret-{app_id}"
        fake.add_app(app_id, secret, name=name)
        apps.append(AppConfig(app_id=app_id, app_secret=secret, name=name))
    with serve_in_thread(fake) as server:
        _say(
            f"Fake Lark server on {server.base_url} with apps: "
            + ", ".join(a for a, _ in DEMO_APPS)
        )
        async with open_pool(
            apps=apps,
            base_url=server.base_url,
            default_app_id="cli_demo_alerts",
            metrics=InMemoryMetrics(),
            retry=RetryPolicy(base_delay=0.05),
        ) as pool:
            bot = MessagingClient(pool)
            _say("\n1. App resolution (argument > use_app > client default > pool default > auto)")
            info = await bot.get_bot_info()
            _say(f"   no app named               -> {info.app_name} (the pool's default)")
            info = await bot.get_bot_info(app_id="cli_demo_hr")
            _say(f"   app_id='cli_demo_hr'       -> {info.app_name}")
            with use_app("cli_demo_hr"):
                info = await bot.get_bot_info()
                _say(f"   with use_app('cli_demo_hr') -> {info.app_name}")

            _say(f"\n2. {calls} concurrent first calls per app")
            fake.reset()
            pool.forget_tokens("cli_demo_alerts")
            pool.forget_tokens("cli_demo_hr")
            started = time.perf_counter()
            await asyncio.gather(
                *(bot.get_bot_info(app_id=a) for a, _ in DEMO_APPS for _ in range(calls))
            )
            elapsed = time.perf_counter() - started
            for app_id, _ in DEMO_APPS:
                _say(f"   {app_id}: {fake.token_requests(app_id)} token request(s) at Lark")
            _say(f"   {2 * calls} calls in {elapsed:.2f}s")

            _say("\n3. Lark invalidates every token of cli_demo_alerts")
            fake.invalidate_tokens("cli_demo_alerts")
            before = fake.token_requests("cli_demo_alerts")
            sent = await bot.send_text(
                "oc_demo_chat", "hello after invalidation", app_id="cli_demo_alerts"
            )
            after = fake.token_requests("cli_demo_alerts")
            _say(
                f"   send_text succeeded ({sent.message_id}) after {after - before} "
                "token refresh: the rejected token was dropped and the call retried once"
            )
    _say("\nDone. Embed it: see README.md.")
    return 0
