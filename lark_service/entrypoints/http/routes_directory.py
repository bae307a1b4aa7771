"""Look-ups of users, departments and chats (``read`` scope)."""

from __future__ import annotations

from litestar import get
from litestar.params import FromPath, FromQuery

from lark_service.domain.models.contact import Chat, Department, User
from lark_service.entrypoints.http.auth import BEARER, scope
from lark_service.entrypoints.http.problems import problem_responses
from lark_service.entrypoints.http.services import ServicesDep

ERRORS = problem_responses(401, 403, 404, 409, 422, 429, 502, 504)

AppIdQuery = FromQuery[str | None]


@get(
    "/v1/users/{user_id:str}",
    opt=scope("read"),
    security=[BEARER],
    responses=ERRORS,
    summary="A user",
)
async def get_user(
    services: ServicesDep,
    user_id: FromPath[str],
    user_id_type: FromQuery[str] = "open_id",
    department_id_type: FromQuery[str] = "open_department_id",
    app_id: AppIdQuery = None,
) -> User:
    return await services.contact.get_user(
        user_id, user_id_type=user_id_type, department_id_type=department_id_type, app_id=app_id
    )


@get(
    "/v1/departments/{department_id:str}",
    opt=scope("read"),
    security=[BEARER],
    responses=ERRORS,
    summary="A department",
)
async def get_department(
    services: ServicesDep,
    department_id: FromPath[str],
    department_id_type: FromQuery[str] = "open_department_id",
    user_id_type: FromQuery[str] = "open_id",
    app_id: AppIdQuery = None,
) -> Department:
    return await services.contact.get_department(
        department_id,
        department_id_type=department_id_type,
        user_id_type=user_id_type,
        app_id=app_id,
    )


@get(
    "/v1/chats/{chat_id:str}",
    opt=scope("read"),
    security=[BEARER],
    responses=ERRORS,
    summary="A chat",
)
async def get_chat(
    services: ServicesDep,
    chat_id: FromPath[str],
    user_id_type: FromQuery[str] = "open_id",
    app_id: AppIdQuery = None,
) -> Chat:
    return await services.contact.get_chat(chat_id, user_id_type=user_id_type, app_id=app_id)


ROUTES = [get_user, get_department, get_chat]
