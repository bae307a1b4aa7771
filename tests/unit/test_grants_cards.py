"""Card authorization and token care: the card sent, updated in place, prompts sent once."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from lark_service.domain.errors import ConfigError, UserAuthorizationRequired
from lark_service.testing.fake_lark.auth import approve
from tests.unit.grants_support import APP, USER, Grants, grants_fixture, redirect_params

__all__ = ["grants_fixture"]

pytestmark = pytest.mark.anyio


def cards_to(grants: Grants, user_id: str = USER) -> list[dict[str, Any]]:
    return [
        m
        for m in grants.fake.messages
        if m["msg_type"] == "interactive" and m["receive_id"] == user_id
    ]


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    content = message["content"]
    card = msgspec.json.decode(content) if isinstance(content, str) else content
    assert isinstance(card, dict)
    return card


def button_url(card: dict[str, Any]) -> str:
    (action,) = [e for e in card["elements"] if e["tag"] == "action"]
    url = action["actions"][0]["url"]
    assert isinstance(url, str)
    return url


async def test_card_sent_once_and_updated_in_place_on_completion(grants: Grants) -> None:
    session = await grants.service.request_user_authorization(USER, app_id=APP)
    again = await grants.service.request_user_authorization(USER, app_id=APP)
    assert again.session_id == session.session_id  # still pending: no second card
    (message,) = cards_to(grants)
    assert message["message_id"] == session.message_id
    card = card_of(message)
    assert card["header"]["template"] == "blue"

    code, state = redirect_params(approve(grants.fake, button_url(card), USER))
    await grants.service.complete(code, state)
    (message,) = cards_to(grants)  # the same message, its card replaced
    updated = card_of(message)
    assert updated["header"]["template"] == "green"
    assert "authorized" in updated["header"]["title"]["content"]
    assert await grants.service.access_token(APP, USER)


async def test_concurrent_requests_send_one_card(grants: Grants) -> None:
    sessions = await asyncio.gather(
        *(grants.service.request_user_authorization(USER, app_id=APP) for _ in range(5))
    )
    assert len({s.session_id for s in sessions}) == 1
    assert len(cards_to(grants)) == 1


async def test_declined_authorization_marks_the_card_failed(grants: Grants) -> None:
    session = await grants.service.request_user_authorization(USER, app_id=APP)
    (message,) = cards_to(grants)
    _, state = redirect_params(approve(grants.fake, button_url(card_of(message)), USER, deny=True))
    failed = await grants.service.deny(state, "access_denied")
    assert failed is not None and failed.status == "failed"
    assert card_of(cards_to(grants)[0])["header"]["template"] == "red"
    ended = await grants.sessions.load_session(session.session_id)
    assert ended is not None and ended.reason == "access_denied"


async def test_expired_sessions_update_their_card_and_are_pruned(grants: Grants) -> None:
    session = await grants.service.request_user_authorization(USER, app_id=APP)
    url = button_url(card_of(cards_to(grants)[0]))
    grants.fake.advance(601)
    assert await grants.service.expire_sessions() == 1
    assert card_of(cards_to(grants)[0])["header"]["template"] == "grey"
    code, state = redirect_params(approve(grants.fake, url, USER))
    with pytest.raises(ConfigError, match="already expired"):
        await grants.service.complete(code, state)
    # a new request after expiry sends a new card
    fresh = await grants.service.request_user_authorization(USER, app_id=APP)
    assert fresh.session_id != session.session_id and len(cards_to(grants)) == 2
    assert await grants.service.prune_sessions(keep_for=3600) == 0  # ended too recently
    grants.fake.advance(3600)
    assert await grants.service.prune_sessions(keep_for=3600) == 1  # the old one only
    assert await grants.sessions.load_session(session.session_id) is None
    assert await grants.sessions.load_session(fresh.session_id) is not None


async def test_lapsed_grant_prompts_once_with_metric_and_event(grants: Grants) -> None:
    await grants.authorize()
    grants.fake.tokens.invalidate(APP)
    grants.fake.advance(7200)
    results = await asyncio.gather(
        *(grants.service.access_token(APP, USER) for _ in range(10)), return_exceptions=True
    )
    assert all(isinstance(r, UserAuthorizationRequired) for r in results)
    for _ in range(3):  # later calls fail at once and prompt no more
        with pytest.raises(UserAuthorizationRequired):
            await grants.service.access_token(APP, USER)
    (card,) = cards_to(grants)
    assert "lost the permission" in msgspec.json.encode(card_of(card)).decode()
    topics = [t for t, _ in grants.bus.published]
    assert topics.count(f"{APP}.user_grant.lapsed") == 1
    assert grants.metrics.token_refreshes[(APP, "user_grant", "lapsed")] == 1


async def test_expiring_grants_prompt_once(grants: Grants) -> None:
    await grants.authorize()
    assert await grants.service.check_grants() == 0  # 30 days left
    grants.fake.advance(28 * 86400)
    assert await grants.service.check_grants() == 1
    assert await grants.service.check_grants() == 0  # the prompt is still pending
    assert len(cards_to(grants)) == 1
    topics = [t for t, _ in grants.bus.published]
    assert topics.count(f"{APP}.user_grant.expiring") == 1


async def test_upkeep_expires_prunes_and_prompts_in_one_pass(grants: Grants) -> None:
    await grants.authorize("ou_bob")
    session = await grants.service.request_user_authorization(USER, app_id=APP)
    grants.fake.advance(28 * 86400)
    report = await grants.service.upkeep(keep_for=0)
    # pruned: the expired session and bob's completed one; prompted: bob, 2 days left
    assert (report.expired, report.pruned, report.prompted) == (1, 2, 1)
    assert await grants.sessions.load_session(session.session_id) is None
    assert [m["receive_id"] for m in grants.fake.messages] == [USER, "ou_bob"]
    again = await grants.service.upkeep(keep_for=0)
    assert (again.expired, again.pruned, again.prompted) == (0, 0, 0)
