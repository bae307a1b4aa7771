"""The 5-level app-resolution policy, as a table, plus use_app nesting and task isolation."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lark_service.application import AppResolver, current_context_app, use_app
from lark_service.domain import AppConfig, AppDisabledError, NoAppResolvedError, UnknownAppError


def _apps(
    *ids: str, default: str | None = None, disabled: tuple[str, ...] = ()
) -> dict[str, AppConfig]:
    return {
        i: AppConfig(app_id=i, app_secret="s", is_default=(i == default), enabled=i not in disabled)
        for i in ids
    }


# (apps, pool default_app_id, context app, client default, explicit app_id) -> expected app
CASES = [
    pytest.param(_apps("a", "b", "c"), "c", "b", "a", "a", "a", id="1-explicit-beats-all"),
    pytest.param(_apps("a", "b", "c"), "c", "b", "a", None, "b", id="2-context-beats-client"),
    pytest.param(_apps("a", "b", "c"), "c", None, "a", None, "a", id="3-client-beats-pool"),
    pytest.param(_apps("a", "b", "c"), "c", None, None, None, "c", id="4-pool-default_app_id"),
    pytest.param(_apps("a", "b", default="b"), None, None, None, None, "b", id="4-is_default-flag"),
    pytest.param(_apps("a", "b", default="b"), "a", None, None, None, "a", id="4-arg-beats-flag"),
    pytest.param(_apps("only"), None, None, None, None, "only", id="5-auto-single-app"),
    pytest.param(
        _apps("a", "b", disabled=("b",)), None, None, None, None, "a", id="5-auto-single-enabled"
    ),
]


def _auto(apps: dict[str, AppConfig]) -> str | None:
    enabled = [a for a in apps.values() if a.enabled]
    return enabled[0].app_id if len(enabled) == 1 else None


@pytest.mark.parametrize(("apps", "pool_default", "ctx", "client", "explicit", "expected"), CASES)
def test_resolution_priority(
    apps: dict[str, AppConfig],
    pool_default: str | None,
    ctx: str | None,
    client: str | None,
    explicit: str | None,
    expected: str | type[Exception],
) -> None:
    resolver = AppResolver(apps, default_app_id=pool_default, auto_detect=lambda: _auto(apps))
    if ctx:
        with use_app(ctx):
            assert resolver.resolve(explicit, client).app_id == expected
    else:
        assert resolver.resolve(explicit, client).app_id == expected


@pytest.mark.parametrize("level", ["explicit", "context", "client", "pool"])
def test_unknown_app_at_any_level_is_an_error_naming_it(level: str) -> None:
    apps = _apps("a", "b")
    resolver = AppResolver(apps, default_app_id="ghost" if level == "pool" else None)
    with pytest.raises(UnknownAppError, match="ghost") as info:
        if level == "context":
            with use_app("ghost"):
                resolver.resolve(None, None)
        else:
            resolver.resolve(
                "ghost" if level == "explicit" else None, "ghost" if level == "client" else None
            )
    assert info.value.app_id == "ghost"
    assert "a, b" in str(info.value)


@pytest.mark.parametrize("level", ["explicit", "context", "client", "pool"])
def test_disabled_app_is_an_error_not_a_fall_through(level: str) -> None:
    apps = _apps("a", "off", disabled=("off",))
    resolver = AppResolver(
        apps, default_app_id="off" if level == "pool" else None, auto_detect=lambda: _auto(apps)
    )
    with pytest.raises(AppDisabledError, match="off"):
        if level == "context":
            with use_app("off"):
                resolver.resolve(None, None)
        else:
            resolver.resolve(
                "off" if level == "explicit" else None, "off" if level == "client" else None
            )


def test_nothing_resolvable_lists_the_apps() -> None:
    apps = _apps("a", "b")
    resolver = AppResolver(apps, auto_detect=lambda: _auto(apps))
    with pytest.raises(NoAppResolvedError, match="apps known: a, b"):
        resolver.resolve()


def test_no_apps_at_all() -> None:
    with pytest.raises(NoAppResolvedError, match="apps known: none"):
        AppResolver({}).resolve()


def test_use_app_nests_and_unwinds() -> None:
    assert current_context_app() is None
    with use_app("outer"):
        assert current_context_app() == "outer"
        with use_app("inner"):
            assert current_context_app() == "inner"
        assert current_context_app() == "outer"
    assert current_context_app() is None


def test_use_app_unwinds_on_error() -> None:
    with pytest.raises(RuntimeError), use_app("x"):
        raise RuntimeError
    assert current_context_app() is None


@pytest.mark.anyio
async def test_use_app_async_with_and_task_isolation() -> None:
    seen: dict[str, list[str | None]] = {}

    async def worker(name: str) -> None:
        async with use_app(name):
            await asyncio.sleep(0)
            seen.setdefault(name, []).append(current_context_app())
            with use_app(name + "-inner"):
                await asyncio.sleep(0)
                seen[name].append(current_context_app())
            await asyncio.sleep(0)
            seen[name].append(current_context_app())

    async with use_app("parent"):
        await asyncio.gather(*(worker(f"t{i}") for i in range(50)))
        assert current_context_app() == "parent"
    for name, values in seen.items():
        assert values == [name, name + "-inner", name]


def test_use_app_is_thread_local_too() -> None:
    results: dict[int, str | None] = {}

    def run(i: int) -> None:
        with use_app(f"th{i}"):
            results[i] = current_context_app()

    with use_app("main"):
        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert current_context_app() == "main"
    assert results == {i: f"th{i}" for i in range(4)}
