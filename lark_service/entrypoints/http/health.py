"""``/healthz`` (the process answers; no I/O) and ``/readyz`` (its dependencies answer)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Response, get

from lark_service.entrypoints.http.services import ServicesDep


class Health(msgspec.Struct, kw_only=True):
    status: str


class Readiness(msgspec.Struct, kw_only=True):
    status: str  # "ready" or "unready"
    checks: dict[str, str]  # name → "ok" or the reason it failed


@get("/healthz", summary="Liveness: the process is up", include_in_schema=True)
async def healthz() -> Health:
    return Health(status="ok")


@get("/readyz", summary="Readiness: the store (and the broker, if any) answer")
async def readyz(services: ServicesDep) -> Response[Any]:
    checks: dict[str, str] = {}
    for name, check in services.readiness:
        try:
            async with asyncio.timeout(services.readiness_timeout):
                reason = await check()
        except TimeoutError:
            reason = f"no answer within {services.readiness_timeout:g} s"
        except Exception as exc:  # a failing dependency is the answer, not an error
            reason = f"{type(exc).__name__}: {exc}"
        checks[name] = reason or "ok"
    ready = all(v == "ok" for v in checks.values())
    body = Readiness(status="ready" if ready else "unready", checks=checks)
    return Response(body, status_code=200 if ready else 503)


ROUTES = [healthz, readyz]
