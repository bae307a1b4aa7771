"""``/v1/messages`` (send now or as a job, reply, edit, recall) and ``/v1/jobs``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Response, delete, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from lark_service.application.usecases.sending import SendCommand
from lark_service.domain.jobs import JobRecord, JobStatus
from lark_service.domain.models.messaging import Message
from lark_service.entrypoints.http.auth import BEARER, scope
from lark_service.entrypoints.http.problems import problem_responses
from lark_service.entrypoints.http.services import ServicesDep

ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422, 429, 502, 504)

AppIdQuery = Annotated[
    str | None, QueryParameter(description="the app to call as (default: policy)")
]
Content = Annotated[
    dict[str, Any] | str,
    msgspec.Meta(description="Lark's content object, or its JSON string"),
]


class SendMessageBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    receive_id: str
    msg_type: str
    content: Content
    receive_id_type: str = "chat_id"
    app_id: str | None = None
    uuid: Annotated[
        str | None, msgspec.Meta(description="Lark's dedup key; with respond-async, the job id")
    ] = None


class ReplyBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    msg_type: str
    content: Content
    reply_in_thread: bool = False
    app_id: str | None = None
    uuid: str | None = None


class EditBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    msg_type: Annotated[str, msgspec.Meta(description="text or post")]
    content: Content
    app_id: str | None = None


class JobAccepted(msgspec.Struct, kw_only=True):
    job_id: str
    status: JobStatus


@post(
    "/v1/messages",
    opt=scope("send"),
    security=[BEARER],
    responses={
        **ERRORS,
        202: ResponseSpec(JobAccepted, description="Queued (with Prefer: respond-async)"),
    },
    status_code=HTTP_200_OK,
    summary="Send a message (or queue it with Prefer: respond-async)",
)
async def send_message(
    services: ServicesDep,
    data: JSONBody[SendMessageBody],
    prefer: Annotated[str | None, HeaderParameter(name="Prefer", required=False)] = None,
) -> Response[Message | JobAccepted]:  # 200 Message, 202 JobAccepted
    cmd = SendCommand(
        receive_id=data.receive_id,
        receive_id_type=data.receive_id_type,
        msg_type=data.msg_type,
        content=data.content,
        app_id=data.app_id,
        uuid=data.uuid,
    )
    if prefer is not None and "respond-async" in prefer.lower():
        record = await services.sending.enqueue(cmd)
        accepted = JobAccepted(job_id=record.job_id, status=record.status)
        return Response(
            accepted,
            status_code=HTTP_202_ACCEPTED,
            headers={
                "Location": f"/v1/jobs/{record.job_id}",
                "Preference-Applied": "respond-async",
            },
        )
    return Response(await services.sending.send(cmd))


@get(
    "/v1/jobs/{job_id:str}",
    opt=scope("read"),
    security=[BEARER],
    responses=ERRORS,
    summary="A send job's status",
)
async def get_job(services: ServicesDep, job_id: FromPath[str]) -> JobRecord:
    return await services.sending.get_job(job_id)


@post(
    "/v1/messages/{message_id:str}/reply",
    opt=scope("send"),
    security=[BEARER],
    responses=ERRORS,
    status_code=HTTP_200_OK,
    summary="Reply to a message",
)
async def reply_message(
    services: ServicesDep, message_id: FromPath[str], data: JSONBody[ReplyBody]
) -> Message:
    return await services.messaging.reply_message(
        message_id,
        data.msg_type,
        data.content,
        reply_in_thread=data.reply_in_thread,
        app_id=data.app_id,
        uuid=data.uuid,
    )


@put(
    "/v1/messages/{message_id:str}",
    opt=scope("send"),
    security=[BEARER],
    responses=ERRORS,
    summary="Edit a text or post message the app sent",
)
async def edit_message(
    services: ServicesDep, message_id: FromPath[str], data: JSONBody[EditBody]
) -> Message:
    return await services.messaging.update_message(
        message_id, data.msg_type, data.content, app_id=data.app_id
    )


@delete(
    "/v1/messages/{message_id:str}",
    opt=scope("send"),
    security=[BEARER],
    responses=ERRORS,
    summary="Recall a message the app sent",
)
async def recall_message(
    services: ServicesDep, message_id: FromPath[str], app_id: AppIdQuery = None
) -> None:
    await services.messaging.recall_message(message_id, app_id=app_id)


ROUTES = [send_message, get_job, reply_message, edit_message, recall_message]
