"""The composition root: containers by concern, resources opened and closed, overrides."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import grimp
import pytest
from prometheus_client import REGISTRY

from lark_service.adapters.lark_http import AiohttpLarkTransport
from lark_service.adapters.memory import InMemoryAppStore, InMemoryMetrics, ManualClock
from lark_service.adapters.memory.recent_activity import RecentActivityMetrics
from lark_service.adapters.otel import OtelMetrics
from lark_service.application import MessagingClient
from lark_service.domain.apps import AppConfig
from lark_service.domain.errors import ConfigError, UnknownAppError
from lark_service.domain.wire import LarkReply, LarkRequest
from lark_service.entrypoints.bootstrap import Application, Core, Gateways, Services, application
from lark_service.entrypoints.embed import open_pool
from lark_service.entrypoints.settings import Settings

pytestmark = pytest.mark.anyio


class RecordingTransport:
    """A transport that answers nothing and remembers whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    async def call(self, request: LarkRequest) -> LarkReply:
        raise AssertionError(f"no call expected, got {request.api}")

    async def close_loop_sessions(self) -> None:
        return None

    async def aclose(self) -> None:
        self.closed = True


def _app(app_id: str, **kw: object) -> AppConfig:
    return AppConfig(app_id=app_id, app_secret=f"s-{app_id}", **kw)  # type: ignore[arg-type]


async def test_the_default_application_keeps_stores_in_memory_and_closes_the_transport() -> None:
    async with application(Settings()) as app:
        pool = await app.services.pool()
        transport = pool.transport
        assert isinstance(transport, AiohttpLarkTransport)
        assert isinstance(pool.app_store, InMemoryAppStore)
        assert isinstance(pool.metrics, RecentActivityMetrics)  # the console's last hour
        assert isinstance(pool.metrics.inner, InMemoryMetrics)
        assert await app.services.pool() is pool  # one pool per application
        messaging = await app.services.messaging()
        assert isinstance(messaging, MessagingClient) and messaging.pool is pool
    assert transport._closed  # shut down with the application


async def test_metrics_are_opentelemetry_when_enabled() -> None:
    before = len(list(REGISTRY.collect()))
    async with application(Settings(metrics_enabled=True)) as app:
        pool = await app.services.pool()
        assert isinstance(pool.metrics, RecentActivityMetrics)
        assert isinstance(pool.metrics.inner, OtelMetrics)
        pool.metrics.token_fetch(app_id="cli_x", kind="tenant", outcome="ok")
        names = {m.name for m in REGISTRY.collect()}
        assert "lark_token_fetches" in names
    # the reader left the registry: a second application can register again
    assert len(list(REGISTRY.collect())) == before
    async with application(Settings(metrics_enabled=True)) as app:
        metrics = (await app.services.pool()).metrics
        assert isinstance(metrics, RecentActivityMetrics)
        assert isinstance(metrics.inner, OtelMetrics)


async def test_an_unknown_default_app_fails_at_open_and_still_closes_everything() -> None:
    transport = RecordingTransport()
    with pytest.raises(UnknownAppError, match=r"cli_nowhere.*cli_a"):
        async with open_pool(
            apps=[_app("cli_a")], default_app_id="cli_nowhere", transport=transport
        ):
            raise AssertionError("must not open")
    assert not transport.closed  # the caller's transport stays the caller's


async def test_a_known_default_app_opens() -> None:
    async with open_pool(
        apps=[_app("cli_a"), _app("cli_b")], default_app_id="cli_b", settings=Settings()
    ) as pool:
        assert pool.resolve().app_id == "cli_b"


async def test_overrides_replace_their_providers() -> None:
    transport, clock, metrics = RecordingTransport(), ManualClock(), InMemoryMetrics()
    async with open_pool(
        apps=[_app("cli_a")],
        transport=transport,
        clock=clock,
        metrics=metrics,
        settings=Settings(refresh_ahead=120.0),
    ) as pool:
        assert pool.transport is transport and pool.clock is clock and pool.metrics is metrics
        assert pool.refresh_ahead == 120.0
    assert not transport.closed


async def test_base_url_sends_every_given_app_there() -> None:
    apps = [_app("cli_f", domain="feishu"), _app("cli_l", domain="lark")]
    async with open_pool(apps=apps, base_url="http://127.0.0.1:9", settings=Settings()) as pool:
        assert {pool.resolve(a).base_url for a in ("cli_f", "cli_l")} == {"http://127.0.0.1:9"}


async def test_a_bad_database_url_is_refused_before_anything_opens() -> None:
    with pytest.raises(ConfigError, match=r"database_url.*postgresql\+asyncpg"):
        async with open_pool(database_url="postgresql://u:pw@h/d", settings=Settings()):
            raise AssertionError("must not open")


async def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LARK_SERVICE_REFRESH_AHEAD", "90")
    monkeypatch.delenv("LARK_SERVICE_DATABASE_URL", raising=False)
    monkeypatch.delenv("LARK_SERVICE_CONFIG", raising=False)
    async with open_pool(apps=[_app("cli_a")], transport=RecordingTransport()) as pool:
        assert pool.refresh_ahead == 90.0


def test_containers_are_split_by_concern() -> None:
    assert {"settings", "clock", "logging", "metrics", "metrics_endpoint"} <= set(Core.providers)
    assert {"transport", "issuer", "database", "stores", "retry"} <= set(Gateways.providers)
    assert {"pool", "limiter", "messaging", "contact", "docs", "tables"} <= set(Services.providers)
    assert {"core", "gateways", "services"} <= set(Application.providers)


def _cycles(graph: grimp.ImportGraph) -> Iterator[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(v: str) -> Iterator[set[str]]:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                yield from visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                yield component

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for module in sorted(graph.modules):
            if module not in index:
                yield from visit(module)
    finally:
        sys.setrecursionlimit(limit)


def test_no_import_cycles_outside_the_fake() -> None:
    # The fake Lark server (lark_service.testing) is the testing kit's to untangle.
    graph = grimp.build_graph("lark_service")
    cycles = [c for c in _cycles(graph) if any(not m.startswith("lark_service.testing") for m in c)]
    assert cycles == []
