"""The shared part of `BitableMixin`: limits, input checks, wire shapes and the request helpers.

The checks run before anything is sent, so bad input never reaches Lark.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from lark_service.application.base_client import BaseServiceClient
from lark_service.domain.errors import ConfigError
from lark_service.domain.models import ids
from lark_service.domain.models.bitable import USER_ID_TYPES, BitableRecord, DeletedRecord
from lark_service.domain.models.ids import lark_path

APPS = "/open-apis/bitable/v1/apps"
RECORD_PAGE_MAX = 500
META_PAGE_MAX = 100
BATCH_CREATE_MAX = 1000
BATCH_UPDATE_MAX = 1000
BATCH_DELETE_MAX = 500
BATCH_GET_MAX = 100


class Records(msgspec.Struct):
    records: list[BitableRecord] | None = None


class OneRecord(msgspec.Struct):
    record: BitableRecord


class Deleted(msgspec.Struct):
    records: list[DeletedRecord] | None = None


def check_id(name: str, value: str) -> str:
    """A token or id of Lark's shape (`lark_service.domain.models.ids`), else `ConfigError`."""
    return ids.check_id(value, name)


def check_user_id_type(value: str | None) -> str | None:
    """``None`` or one of Lark's user id types, else `ConfigError`."""
    if value is not None and value not in USER_ID_TYPES:
        raise ConfigError(f"user_id_type must be one of {sorted(USER_ID_TYPES)}")
    return value


def check_fields(value: Mapping[str, Any]) -> dict[str, Any]:
    """A non-empty mapping of field name to value, as a dict, else `ConfigError`."""
    if not isinstance(value, Mapping) or not value:
        raise ConfigError("fields must be a non-empty mapping of field name to value")
    return dict(value)


class BitableBase(BaseServiceClient):
    """Paths and rate families of the Bitable calls."""

    def _bitable_path(self, app_token: str, table_id: str) -> str:
        return lark_path(
            APPS + "/{app_token}/tables/{table_id}", app_token=app_token, table_id=table_id
        )

    def _record_path(self, app_token: str, table_id: str, record_id: str) -> str:
        return lark_path(
            APPS + "/{app_token}/tables/{table_id}/records/{record_id}",
            app_token=app_token,
            table_id=table_id,
            record_id=record_id,
        )

    async def _bitable_read(
        self, type_: type[Any], method: str, path: str, api: str, **kw: Any
    ) -> Any:
        return await self._call_data(type_, method, path, api=api, rate_family="bitable.read", **kw)

    async def _bitable_write(
        self, type_: type[Any], method: str, path: str, api: str, **kw: Any
    ) -> Any:
        return await self._call_data(
            type_, method, path, api=api, rate_family="bitable.write", **kw
        )
