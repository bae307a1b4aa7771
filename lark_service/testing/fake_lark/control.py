"""Control endpoints under ``/_fake/`` for driving a fake that runs in another process.

These are ours, not Lark's. They answer in Lark's envelope (``data`` holds the result),
are never recorded in ``fake.requests``, never count as token requests and never hit faults:

    POST /_fake/apps        {app_id, app_secret, app_type?, tenant_keys?, name?}
    GET  /_fake/stats       -> {token_requests: {app_id: n}, total_token_requests, requests,
                                messages, now}
    POST /_fake/advance     {seconds} -> {now}
    POST /_fake/invalidate  {app_id?}
    POST /_fake/faults      {kind, path_prefix?, count?, latency?, retry_after?, status?}
    POST /_fake/app_ticket  {app_id} -> {app_ticket}   (push a new marketplace ticket)
    POST /_fake/reset
    GET  /_fake/messages    -> {items: fake.messages}

Bad input answers HTTP 400 with code 9499. ``control_seed.py`` adds the endpoints that seed
contacts, chats, Bitable and aPaaS tables, spreadsheets, user tokens and scope denials.
"""

from __future__ import annotations

from typing import Any

from lark_service.testing.fake_lark import control_seed
from lark_service.testing.fake_lark.bot import message_view
from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest, control_body
from lark_service.testing.fake_lark.server import FakeLark, HandlerResult


def _str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise FakeLarkError(400, 9499, f"Bad Request: {name} is required")
    return value


def register(fake: FakeLark) -> None:
    control_seed.register(fake)

    @fake.route("POST", "/_fake/apps")
    async def add_app(req: FakeRequest) -> HandlerResult:
        body = control_body(req)
        try:
            app = fake.add_app(
                _str(body, "app_id"),
                _str(body, "app_secret"),
                app_type=str(body.get("app_type", "self_built")),
                tenant_keys=tuple(body.get("tenant_keys") or ("tenant_default",)),
                name=str(body.get("name", "")),
            )
        except ValueError as exc:
            raise FakeLarkError(400, 9499, f"Bad Request: {exc}") from None
        return {"app_id": app.app_id, "app_type": app.app_type, "open_id": app.open_id}

    @fake.route("GET", "/_fake/stats")
    async def stats(req: FakeRequest) -> HandlerResult:
        return {
            "token_requests": fake.token_request_counts(),
            "total_token_requests": fake.token_requests(),
            "requests": len(fake.requests),
            "messages": len(fake.messages),
            "now": fake.now(),
        }

    @fake.route("POST", "/_fake/advance")
    async def advance(req: FakeRequest) -> HandlerResult:
        seconds = control_body(req).get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise FakeLarkError(400, 9499, "Bad Request: seconds must be a number")
        fake.advance(float(seconds))
        return {"now": fake.now()}

    @fake.route("POST", "/_fake/invalidate")
    async def invalidate(req: FakeRequest) -> HandlerResult:
        app_id = control_body(req).get("app_id")
        fake.invalidate_tokens(app_id if isinstance(app_id, str) and app_id else None)
        return {}

    @fake.route("POST", "/_fake/faults")
    async def faults(req: FakeRequest) -> HandlerResult:
        body = control_body(req)
        try:
            fake.inject_fault(
                _str(body, "kind"),
                path_prefix=str(body.get("path_prefix", "/open-apis/")),
                count=int(body.get("count", 1)),
                latency=float(body.get("latency", 0.0)),
                retry_after=float(body.get("retry_after", 1)),
                status=int(body.get("status", 500)),
            )
        except (TypeError, ValueError) as exc:
            raise FakeLarkError(400, 9499, f"Bad Request: {exc}") from None
        return {}

    @fake.route("POST", "/_fake/app_ticket")
    async def app_ticket(req: FakeRequest) -> HandlerResult:
        app_id = _str(control_body(req), "app_id")
        if app_id not in fake.apps:
            raise FakeLarkError(400, 9499, f"Bad Request: unknown app {app_id}")
        return {"app_ticket": fake.push_app_ticket(app_id)}

    @fake.route("POST", "/_fake/reset")
    async def reset(req: FakeRequest) -> HandlerResult:
        fake.reset()
        return {}

    @fake.route("GET", "/_fake/messages")
    async def messages(req: FakeRequest) -> HandlerResult:
        return {"items": [dict(message_view(m), receive_id=m["receive_id"]) for m in fake.messages]}
