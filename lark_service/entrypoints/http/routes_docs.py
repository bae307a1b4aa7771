"""docx documents, Bitable records and aPaaS workspace tables: thin calls to the clients."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from lark_service.domain.models.bitable import BitableRecord, Filter, RecordPage, Sort
from lark_service.domain.models.docs import Document
from lark_service.domain.models.tables import WorkspaceRecordPage
from lark_service.entrypoints.http.auth import BEARER, scope
from lark_service.entrypoints.http.problems import problem_responses
from lark_service.entrypoints.http.services import ServicesDep

ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422, 429, 502, 504)

AppIdQuery = FromQuery[str | None]
PageSize = Annotated[int, QueryParameter(ge=1, le=500)]
_BITABLE = "/v1/bitable/apps/{app_token:str}/tables/{table_id:str}/records"


# docx ------------------------------------------------------------------------------------
class CreateDocumentBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str | None = None
    folder_token: str | None = None
    app_id: str | None = None


class RawContent(msgspec.Struct, kw_only=True):
    document_id: str
    content: str


@post(
    "/v1/docx/documents",
    opt=scope("send"),
    security=[BEARER],
    responses=ERRORS,
    status_code=HTTP_201_CREATED,
    summary="Create an empty docx document",
)
async def create_document(services: ServicesDep, data: JSONBody[CreateDocumentBody]) -> Document:
    return await services.docs.create_document(
        title=data.title, folder_token=data.folder_token, app_id=data.app_id
    )


@get(
    "/v1/docx/documents/{document_id:str}",
    opt=scope("read"),
    security=[BEARER],
    responses=ERRORS,
    summary="A docx document's title and revision",
)
async def get_document(
    services: ServicesDep, document_id: FromPath[str], app_id: AppIdQuery = None
) -> Document:
    return await services.docs.get_document(document_id, app_id=app_id)


@get(
    "/v1/docx/documents/{document_id:str}/raw_content",
    opt=scope("read"),
    security=[BEARER],
    responses=ERRORS,
    summary="A docx document as plain text",
)
async def get_raw_content(
    services: ServicesDep, document_id: FromPath[str], app_id: AppIdQuery = None
) -> RawContent:
    text = await services.docs.get_raw_content(document_id, app_id=app_id)
    return RawContent(document_id=document_id, content=text)


# Bitable ---------------------------------------------------------------------------------
class SearchRecordsBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    filter: Filter | None = None
    sort: list[Sort] | None = None
    field_names: list[str] | None = None
    view_id: FromQuery[str | None] = None
    automatic_fields: bool = False
    page_size: Annotated[int, msgspec.Meta(ge=1, le=500)] = 500
    page_token: FromQuery[str | None] = None
    app_id: str | None = None


class NewRecord(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    fields: dict[str, Any]


class BatchCreateBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    records: Annotated[list[NewRecord], msgspec.Meta(min_length=1)]
    app_id: str | None = None


class CreatedRecords(msgspec.Struct, kw_only=True):
    records: list[BitableRecord]


@get(
    _BITABLE,
    opt=scope("read"),
    security=[BEARER],
    responses=ERRORS,
    summary="One page of Bitable records",
)
async def list_records(
    services: ServicesDep,
    app_token: FromPath[str],
    table_id: FromPath[str],
    view_id: FromQuery[str | None] = None,
    filter: FromQuery[str | None] = None,
    sort: FromQuery[str | None] = None,
    page_size: PageSize = 500,
    page_token: FromQuery[str | None] = None,
    app_id: AppIdQuery = None,
) -> RecordPage:
    return await services.docs.list_records(
        app_token,
        table_id,
        view_id=view_id,
        filter=filter,
        sort=sort,
        page_size=page_size,
        page_token=page_token,
        app_id=app_id,
    )


@post(
    _BITABLE + "/search",
    opt=scope("read"),
    security=[BEARER],
    responses=ERRORS,
    status_code=HTTP_200_OK,
    summary="Search Bitable records",
)
async def search_records(
    services: ServicesDep,
    app_token: FromPath[str],
    table_id: FromPath[str],
    data: JSONBody[SearchRecordsBody],
) -> RecordPage:
    return await services.docs.search_records(
        app_token,
        table_id,
        filter=data.filter,
        sort=data.sort,
        field_names=data.field_names,
        view_id=data.view_id,
        automatic_fields=data.automatic_fields,
        page_size=data.page_size,
        page_token=data.page_token,
        app_id=data.app_id,
    )


@post(
    _BITABLE + "/batch_create",
    opt=scope("send"),
    security=[BEARER],
    responses=ERRORS,
    status_code=HTTP_201_CREATED,
    summary="Create Bitable records",
)
async def batch_create_records(
    services: ServicesDep,
    app_token: FromPath[str],
    table_id: FromPath[str],
    data: JSONBody[BatchCreateBody],
) -> CreatedRecords:
    created = await services.docs.batch_create_records(
        app_token, table_id, [r.fields for r in data.records], app_id=data.app_id
    )
    return CreatedRecords(records=created)


# aPaaS workspace tables --------------------------------------------------------------------
@get(
    "/v1/apaas/workspaces/{workspace_id:str}/tables/{table_name:str}/records",
    opt=scope("read"),
    security=[BEARER],
    responses=ERRORS,
    summary="Query an aPaaS workspace table (as the user who authorized the app)",
)
async def query_workspace_records(
    services: ServicesDep,
    workspace_id: FromPath[str],
    table_name: FromPath[str],
    user_id: Annotated[str, QueryParameter(description="the user whose grant is used")],
    select: FromQuery[str | None] = None,
    filter: FromQuery[str | None] = None,
    order: FromQuery[str | None] = None,
    page_size: PageSize = 500,
    page_token: FromQuery[str | None] = None,
    app_id: AppIdQuery = None,
) -> WorkspaceRecordPage:
    return await services.tables.query_records(
        workspace_id,
        table_name,
        user_id=user_id,
        select=select,
        filter=filter,
        order=order,
        page_size=page_size,
        page_token=page_token,
        app_id=app_id,
    )


ROUTES = [
    create_document,
    get_document,
    get_raw_content,
    list_records,
    search_records,
    batch_create_records,
    query_workspace_records,
]
