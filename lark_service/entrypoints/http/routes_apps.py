"""``/v1/apps``: the admin API (``admin`` scope). No response ever carries a secret."""

from __future__ import annotations

from litestar import Router, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from lark_service.application.usecases.apps import AppChanges, AppView, NewApp
from lark_service.entrypoints.http.auth import BEARER, scope
from lark_service.entrypoints.http.problems import problem_responses
from lark_service.entrypoints.http.services import ServicesDep

ERRORS = problem_responses(400, 401, 403, 404, 422, 502)


@get("/", responses=ERRORS, summary="Every app (no secrets)")
async def list_apps(services: ServicesDep) -> list[AppView]:
    return services.apps.list()


@get("/{app_id:str}", responses=ERRORS, summary="One app (no secrets)")
async def get_app(services: ServicesDep, app_id: FromPath[str]) -> AppView:
    return services.apps.get(app_id)


@post("/", responses=ERRORS, status_code=HTTP_201_CREATED, summary="Add an app")
async def add_app(services: ServicesDep, data: JSONBody[NewApp]) -> AppView:
    return await services.apps.add(data)


@patch("/{app_id:str}", responses=ERRORS, summary="Change an app")
async def update_app(
    services: ServicesDep, app_id: FromPath[str], data: JSONBody[AppChanges]
) -> AppView:
    return await services.apps.update(app_id, data)


@delete("/{app_id:str}", responses=ERRORS, summary="Remove an app and its tokens")
async def remove_app(services: ServicesDep, app_id: FromPath[str]) -> None:
    await services.apps.remove(app_id)


@post(
    "/{app_id:str}/validate",
    responses=ERRORS,
    status_code=HTTP_200_OK,
    summary="Check the app's credentials with Lark",
)
async def validate_app(services: ServicesDep, app_id: FromPath[str]) -> AppView:
    return await services.apps.validate(app_id)


ROUTES = [
    Router(
        "/v1/apps",
        route_handlers=[list_apps, get_app, add_app, update_app, remove_app, validate_app],
        opt=scope("admin"),
        security=[BEARER],
        tags=["apps"],
    )
]
