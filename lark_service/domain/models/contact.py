"""contact/v3 users and departments, im/v1 chats and chat members, as Lark sends them.

Field names are Lark's. Fields Lark omits (no field scope, p2p chats, ...) decode to their
defaults: ``""`` for strings, so ``email == ""`` means Lark did not return it (for example
without ``contact:user.email:readonly``). Unknown fields are ignored on decode.
The department leader's wire names are camelCase (``leaderType``, ``leaderID``); the
Python attributes are snake_case and map to them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lark_service.domain.errors import ConfigError
from lark_service.domain.models import ids
from lark_service.domain.models.common import (
    Page,  # re-exported for this area
)

USER_ID_TYPES = frozenset({"open_id", "union_id", "user_id"})
DEPARTMENT_ID_TYPES = frozenset({"open_department_id", "department_id"})
ROOT_DEPARTMENT_ID = "0"


class Avatar(msgspec.Struct, kw_only=True):
    avatar_72: str = ""
    avatar_240: str = ""
    avatar_640: str = ""
    avatar_origin: str = ""


class UserStatus(msgspec.Struct, kw_only=True):
    is_frozen: bool = False
    is_resigned: bool = False
    is_activated: bool = False
    is_exited: bool = False
    is_unjoin: bool = False


class UserOrder(msgspec.Struct, kw_only=True):
    department_id: str = ""
    user_order: int = 0
    department_order: int = 0
    is_primary_dept: bool = False


class UserCustomAttr(msgspec.Struct, kw_only=True):
    type: str = ""
    id: str = ""
    value: dict[str, Any] = {}


class User(msgspec.Struct, kw_only=True):
    """A contact/v3 user. ``user_id``, ``email`` and ``mobile`` need extra field scopes."""

    open_id: str = ""
    union_id: str = ""
    user_id: str = ""
    name: str = ""
    en_name: str = ""
    nickname: str = ""
    email: str = ""
    mobile: str = ""
    mobile_visible: bool = True
    gender: int = 0
    avatar_key: str = ""
    avatar: Avatar | None = None
    status: UserStatus | None = None
    department_ids: list[str] = []
    leader_user_id: str = ""
    city: str = ""
    country: str = ""
    work_station: str = ""
    join_time: int = 0
    is_tenant_manager: bool = False
    employee_no: str = ""
    employee_type: int = 0
    orders: list[UserOrder] = []
    custom_attrs: list[UserCustomAttr] = []
    enterprise_email: str = ""
    job_title: str = ""
    is_frozen: bool = False
    geo: str = ""
    job_level_id: str = ""
    job_family_id: str = ""
    dotted_line_leader_user_ids: list[str] = []


class UserContactInfo(msgspec.Struct, kw_only=True):
    """One ``user_list`` entry of ``users/batch_get_id``; ``user_id`` is ``""`` when Lark
    found no (visible, or non-resigned) user for the email or mobile."""

    user_id: str = ""
    email: str = ""
    mobile: str = ""
    status: UserStatus | None = None


class I18nName(msgspec.Struct, kw_only=True):
    zh_cn: str = ""
    ja_jp: str = ""
    en_us: str = ""


class DepartmentStatus(msgspec.Struct, kw_only=True):
    is_deleted: bool = False


class DepartmentLeader(msgspec.Struct, kw_only=True):
    leader_type: int = msgspec.field(default=0, name="leaderType")
    leader_id: str = msgspec.field(default="", name="leaderID")


class Department(msgspec.Struct, kw_only=True):
    """A contact/v3 department; the root department's id is ``"0"``."""

    name: str = ""
    i18n_name: I18nName | None = None
    parent_department_id: str = ""
    department_id: str = ""
    open_department_id: str = ""
    leader_user_id: str = ""
    chat_id: str = ""
    order: str = ""
    unit_ids: list[str] = []
    member_count: int = 0
    status: DepartmentStatus | None = None
    create_group_chat: bool = False
    leaders: list[DepartmentLeader] = []
    group_chat_employee_types: list[int] = []


class RestrictedModeSetting(msgspec.Struct, kw_only=True):
    status: bool = False
    screenshot_has_permission_setting: str = ""
    download_has_permission_setting: str = ""
    message_has_permission_setting: str = ""


class Chat(msgspec.Struct, kw_only=True):
    """An im/v1 chat. Lark's reply does not echo the id; the client sets ``chat_id``.

    When the bot is not in the chat Lark returns only the basics (name, avatar, ...).
    ``user_count``/``bot_count`` are strings on the wire.
    """

    chat_id: str = ""
    avatar: str = ""
    name: str = ""
    description: str = ""
    i18n_names: I18nName | None = None
    add_member_permission: str = ""
    share_card_permission: str = ""
    at_all_permission: str = ""
    edit_permission: str = ""
    owner_id_type: str = ""
    owner_id: str = ""
    user_manager_id_list: list[str] = []
    bot_manager_id_list: list[str] = []
    group_message_type: str = ""
    chat_mode: str = ""
    chat_type: str = ""
    chat_tag: str = ""
    join_message_visibility: str = ""
    leave_message_visibility: str = ""
    membership_approval: str = ""
    moderation_permission: str = ""
    external: bool = False
    tenant_key: str = ""
    user_count: str = ""
    bot_count: str = ""
    restricted_mode_setting: RestrictedModeSetting | None = None
    urgent_setting: str = ""
    video_conference_setting: str = ""
    hide_member_count_setting: str = ""
    chat_status: str = ""


class ChatMember(msgspec.Struct, kw_only=True):
    """A chat member (bots are not listed by Lark)."""

    member_id: str = ""
    member_id_type: str = ""
    name: str = ""
    tenant_key: str = ""


class ChatMemberPage(Page[ChatMember], kw_only=True):
    """A page of chat members; ``member_total`` is Lark's count of all (non-bot) members."""

    member_total: int = 0


# Lark's per-request limits (contact/v3 and im/v1 docs).
BATCH_MAX = 50  # users/batch user_ids; batch_get_id emails and mobiles
CONTACT_PAGE_MAX = 50  # find_by_department, departments/:id/children
CHAT_MEMBERS_PAGE_MAX = 100  # im/v1/chats/:chat_id/members


def check_id(value: str, what: str) -> str:
    """An id of Lark's shape (`lark_service.domain.models.ids.check_id`), else `ConfigError`."""
    return ids.check_id(value, what)


def check_choice(value: str, allowed: frozenset[str], what: str) -> str:
    """``value`` if it is one of ``allowed``, else `ConfigError`."""
    if value not in allowed:
        raise ConfigError(f"{what} must be one of {sorted(allowed)}, not {value!r}")
    return value
