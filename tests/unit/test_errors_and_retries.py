"""Every error path yields the right typed error; retries follow the policy."""

from __future__ import annotations

import logging

import pytest

from lark_service.adapters.lark_http import RetryPolicy
from lark_service.application import CredentialPool, MessagingClient
from lark_service.domain import (
    AppConfig,
    AuthError,
    BadRequestError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TokenInvalidError,
    UnknownAppError,
    error_from_reply,
)
from lark_service.entrypoints.embed import open_pool
from lark_service.testing import InProcessLarkTransport
from lark_service.testing.fake_lark import FakeLark

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        (99991663, 400, TokenInvalidError),
        (99991664, 400, TokenInvalidError),
        (99991671, 401, TokenInvalidError),
        (99991668, 400, TokenInvalidError),
        (99991400, 429, RateLimitedError),
        (230020, 400, RateLimitedError),
        (99991672, 400, PermissionDeniedError),
        (99991679, 403, PermissionDeniedError),
        (230002, 400, PermissionDeniedError),
        (10014, 400, AuthError),
        (10003, 400, AuthError),
        (1254043, 400, NotFoundError),
        (12345, 404, NotFoundError),
        (230001, 400, BadRequestError),
        (1000, 500, ServerError),
        (1, 503, ServerError),
    ],
)
def test_error_mapping_table(code: int, status: int, expected: type[Exception]) -> None:
    err = error_from_reply(
        code=code, msg="m", http_status=status, log_id="L1", app_id="cli_a", api="x.y"
    )
    assert type(err) is expected
    assert (err.code, err.msg, err.log_id, err.http_status, err.app_id, err.api) == (
        code,
        "m",
        "L1",
        status,
        "cli_a",
        "x.y",
    )


def test_rate_limited_error_carries_retry_after() -> None:
    err = error_from_reply(code=99991400, msg="limit", http_status=429, retry_after=7)
    assert isinstance(err, RateLimitedError) and err.retry_after == 7


async def test_wrong_secret_is_an_auth_error_naming_app_and_api(fake: FakeLark) -> None:
    fake.add_app("cli_wrong", "right-secret")
    app = AppConfig(app_id="cli_wrong", app_secret="WRONG-secret-value")
    async with open_pool(apps=[app], transport=InProcessLarkTransport(fake)) as pool:
        with pytest.raises(AuthError) as info:
            await MessagingClient(pool).get_bot_info()
    err = info.value
    assert err.code == 10014 and err.app_id == "cli_wrong" and err.api
    assert err.log_id and err.http_status >= 400
    assert "WRONG-secret-value" not in str(err) and "WRONG-secret-value" not in repr(err)


async def test_unknown_app_id_at_call_is_an_error(pool: CredentialPool) -> None:
    with pytest.raises(UnknownAppError, match="cli_nope"):
        await MessagingClient(pool).get_bot_info(app_id="cli_nope")


async def test_disabled_app_raises(pool: CredentialPool) -> None:
    await pool.apps.disable("cli_app1")
    from lark_service.domain import AppDisabledError

    with pytest.raises(AppDisabledError):
        await MessagingClient(pool).get_bot_info(app_id="cli_app1")


async def test_rate_limit_is_retried_after_reset_header(
    pool: CredentialPool, fake: FakeLark
) -> None:
    fake.inject_fault("rate_limit", path_prefix="/open-apis/bot", count=2, retry_after=0)
    info = await MessagingClient(pool).get_bot_info()
    assert info.app_name == "App 0"
    assert pool.metrics.rate_limits[("cli_app0", "bot.info")] == 2  # type: ignore[attr-defined]


async def test_persistent_rate_limit_surfaces_typed_error(fake: FakeLark) -> None:
    fake.add_app("cli_rl", "s")
    policy = RetryPolicy(max_rate_limit_retries=1, max_delay=0.05)
    async with open_pool(
        apps=[AppConfig(app_id="cli_rl", app_secret="s")],
        transport=InProcessLarkTransport(fake, retry=policy),
    ) as pool:
        fake.inject_fault("rate_limit", path_prefix="/open-apis/bot", count=5, retry_after=3)
        with pytest.raises(RateLimitedError) as info:
            await MessagingClient(pool).get_bot_info()
    assert info.value.retry_after == 3 and info.value.code == 99991400
    assert info.value.http_status == 429


async def test_5xx_on_get_is_retried(pool: CredentialPool, fake: FakeLark) -> None:
    await MessagingClient(pool).get_bot_info()
    fake.inject_fault("5xx", path_prefix="/open-apis/bot", count=2)
    info = await MessagingClient(pool).get_bot_info()
    assert info.app_name == "App 0"


async def test_5xx_persisting_raises_server_error(pool: CredentialPool, fake: FakeLark) -> None:
    fake.inject_fault("5xx", path_prefix="/open-apis/bot", count=10, status=503)
    with pytest.raises(ServerError) as info:
        await MessagingClient(pool).get_bot_info()
    assert info.value.http_status == 503 and info.value.app_id == "cli_app0"


async def test_dropped_connection_on_get_is_retried(pool: CredentialPool, fake: FakeLark) -> None:
    await MessagingClient(pool).get_bot_info()
    fake.inject_fault("drop", path_prefix="/open-apis/bot", count=1)
    assert (await MessagingClient(pool).get_bot_info()).app_name == "App 0"


async def test_post_without_uuid_is_not_retried_on_5xx(
    pool: CredentialPool, fake: FakeLark
) -> None:
    client = MessagingClient(pool)
    await client.get_bot_info()
    fake.inject_fault("5xx", path_prefix="/open-apis/im/v1/messages", count=1)
    with pytest.raises(ServerError):
        await client._call(
            "POST",
            "/open-apis/im/v1/messages",
            api="im.message.create",
            query={"receive_id_type": "chat_id"},
            json={"receive_id": "oc_1", "msg_type": "text", "content": '{"text":"x"}'},
        )
    sends = [r for r in fake.requests if r.path == "/open-apis/im/v1/messages"]
    assert len(sends) == 1


async def test_send_with_uuid_is_retried_and_arrives_once(
    pool: CredentialPool, fake: FakeLark
) -> None:
    client = MessagingClient(pool)
    await client.get_bot_info()
    fake.inject_fault("drop", path_prefix="/open-apis/im/v1/messages", count=1)
    msg = await client.send_text("oc_chat", "hello")
    assert msg.message_id.startswith("om_")
    assert len([m for m in fake.messages if m["chat_id"] == "oc_chat"]) == 1


async def test_token_invalid_twice_surfaces_typed_error(
    pool: CredentialPool, fake: FakeLark
) -> None:
    fake.inject_fault("token_invalid", path_prefix="/open-apis/bot", count=2)
    with pytest.raises(TokenInvalidError) as info:
        await MessagingClient(pool).get_bot_info()
    assert info.value.code == 99991663


async def test_bare_access_token_client_without_pool(pool: CredentialPool, fake: FakeLark) -> None:
    token = await pool.tenant_access_token("cli_app1")
    async with MessagingClient(
        access_token=token, transport=InProcessLarkTransport(fake)
    ) as client:
        info = await client.get_bot_info()
        assert info.app_name == "App 1"
        msg = await client.send_text("oc_legacy", "hi")
        assert msg.chat_id == "oc_legacy"
    assert "t-" not in repr(client)


def test_client_needs_pool_or_token() -> None:
    with pytest.raises(ConfigError):
        MessagingClient()


async def test_send_text_bad_input_caught_before_the_call(
    pool: CredentialPool, fake: FakeLark
) -> None:
    client = MessagingClient(pool)
    with pytest.raises(ConfigError, match="receive_id_type"):
        await client.send_text("x", "y", receive_id_type="phone")
    with pytest.raises(ConfigError, match="150 KB"):
        await client.send_text("oc_x", "x" * 160_000)
    assert fake.requests == []


async def test_secrets_and_tokens_never_in_logs_or_reprs(
    fake: FakeLark, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.add_app("cli_secret", "TOPSECRET-123")
    app = AppConfig(
        app_id="cli_secret",
        app_secret="TOPSECRET-123",
        encrypt_key="ENCKEY-9",
        verification_token="VT-7",
    )
    async with open_pool(apps=[app], transport=InProcessLarkTransport(fake)) as pool:
        client = MessagingClient(pool)
        await client.get_bot_info()
        token = await pool.tenant_access_token()
        fake.inject_fault("5xx", path_prefix="/open-apis/bot", count=10)
        with pytest.raises(ServerError) as info:
            await client.get_bot_info()
        texts = [
            caplog.text,
            repr(app),
            str(app),
            repr(pool.apps.list()),
            repr(info.value),
            repr(client),
        ]
        from lark_service.domain import AccessToken, TokenKind

        texts.append(repr(AccessToken(kind=TokenKind.TENANT, value=token, expires_at=0)))
    blob = "\n".join(texts)
    for secret in ("TOPSECRET-123", "ENCKEY-9", "VT-7", token):
        assert secret not in blob
