"""The authorization card's buttons, "New link" and "Cancel" (`EventIntake` routes them here).

Both answer with a toast at once and leave the card's update in place to after the answer
(`CardAnswer.then`). Only the user the card was sent to can use them, on that card: a
forwarded card is clicked by someone else, and a button naming another session or app does
nothing.

* New link: a fresh session and link on the same card; the old link stops working (its
  session ends ``expired``). It asks for the scope the first link did when the button carries
  it (pending cards), else the default. Refused while a newer card is pending, or when the
  service has no default redirect URI to put in the link.
* Cancel: the pending session fails as ``cancelled``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec

from lark_service.application.usecases.card_actions import (
    CardAction,
    CardActionRegistry,
    CardAnswer,
)
from lark_service.application.usecases.grant_cards import CANCELLED, GRANT_CANCEL, GRANT_NEW_LINK
from lark_service.domain.errors import ConfigError
from lark_service.domain.grants import GrantSession, GrantSessionStatus

if TYPE_CHECKING:
    from lark_service.application.usecases.grants import GrantService

__all__ = ["AuthorizationCardActions"]

log = logging.getLogger("lark_service.grants")

_SESSION_ID_MAX = 128
_INTROS = ("expiring", "lapsed")  # reasons a pending card explains; others read "requested"


class AuthorizationCardActions:
    """The handlers of the authorization card's buttons, over a `GrantService`."""

    def __init__(self, grants: GrantService) -> None:
        self.grants = grants

    def register(self, registry: CardActionRegistry) -> None:
        registry.register_card_action(GRANT_NEW_LINK, self.new_link)
        registry.register_card_action(GRANT_CANCEL, self.cancel)

    async def new_link(self, action: CardAction) -> CardAnswer:
        grants = self.grants
        session = await self._clicked_session(action)
        if session is None:
            return CardAnswer.toast("This card is not yours to use.", kind="error")
        if session.status is GrantSessionStatus.COMPLETED:
            return CardAnswer.toast("The app is already authorized.", kind="info")
        now = grants.pool.clock.now()
        pending = await grants.sessions.pending_sessions(
            app_id=session.app_id, user_id=session.user_id
        )
        if any(p.session_id != session.session_id and p.expires_at > now for p in pending):
            return CardAnswer.toast("A newer authorization card is waiting for you.", kind="info")
        scope = action.value.get("scope")
        scope = scope if isinstance(scope, str) and scope else ""
        reason = session.reason if session.reason in _INTROS else "requested"
        try:
            if scope:
                link, fresh = await grants.begin(
                    session.app_id, session.user_id, scope=scope, reason=reason
                )
            else:
                link, fresh = await grants.begin(session.app_id, session.user_id, reason=reason)
        except ConfigError as exc:  # no default redirect URI: the link needs the caller's
            log.warning("no new authorization link for %s: %s", session.app_id, exc.msg)
            return CardAnswer.toast("Please ask the app for a new card.", kind="warning")
        fresh = msgspec.structs.replace(fresh, message_id=session.message_id)
        await grants.sessions.save_session(fresh)
        if not session.ended:  # the old link must not complete any more
            await self._end(session, GrantSessionStatus.EXPIRED)

        async def show() -> None:
            await grants.update_card(fresh, link.url, scope)

        return CardAnswer.toast("Here is a new link.", kind="success", then=show)

    async def cancel(self, action: CardAction) -> CardAnswer:
        session = await self._clicked_session(action)
        if session is None:
            return CardAnswer.toast("This card is not yours to use.", kind="error")
        if session.ended:
            return CardAnswer.toast(f"This request is already {session.status}.", kind="info")
        ended = await self._end(session, GrantSessionStatus.FAILED, reason=CANCELLED)

        async def show() -> None:
            await self.grants.update_card(ended)

        return CardAnswer.toast("Authorization cancelled.", kind="success", then=show)

    async def _end(
        self, session: GrantSession, status: GrantSessionStatus, *, reason: str = ""
    ) -> GrantSession:
        ended = msgspec.structs.replace(
            session,
            status=status,
            reason=reason or session.reason,
            updated_at=self.grants.pool.clock.now(),
        )
        await self.grants.sessions.save_session(ended)
        return ended

    async def _clicked_session(self, action: CardAction) -> GrantSession | None:
        session_id = action.value.get("session_id")
        if not isinstance(session_id, str) or not session_id or len(session_id) > _SESSION_ID_MAX:
            return None
        session = await self.grants.sessions.load_session(session_id)
        if (
            session is None
            or session.app_id != action.app_id
            or session.user_id != action.operator_open_id
            or (action.message_id and session.message_id != action.message_id)
        ):
            return None
        return session
