"""The authorization card a user receives, in each state of its session.

Authorize is a link to Lark's OAuth page. "New link" and "Cancel" call back with the value
``{"action": GRANT_NEW_LINK | GRANT_CANCEL, "session_id": ...}``: `GrantService` handles them
(`EventIntake.register_card_action`), answering at once and updating this card after.
"""

from __future__ import annotations

import time
from typing import Any

from lark_service.application.clients.cards import CardBuilder
from lark_service.domain.grants import GrantSession, GrantSessionStatus

__all__ = ["CANCELLED", "GRANT_CANCEL", "GRANT_NEW_LINK", "authorization_card"]

GRANT_NEW_LINK = "lark_service.grant.new_link"
GRANT_CANCEL = "lark_service.grant.cancel"
CANCELLED = "cancelled"  # the reason of a session its user cancelled

_INTRO = {
    "requested": "needs your permission to act on your behalf (for example to read "
    "workspace tables as you).",
    "expiring": "will soon lose the permission you gave it: please authorize it again to "
    "keep it working.",
    "lapsed": "lost the permission you gave it: please authorize it again.",
}


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def authorization_card(
    session: GrantSession, app_name: str, url: str = "", *, scope: str = ""
) -> dict[str, Any]:
    """The card of ``session``: an Authorize button while pending, a final note after.

    ``scope`` (when not the default) rides in the pending card's New link button, so that
    the new link asks for what the first one did."""
    card = CardBuilder()
    name = app_name or session.app_id
    if session.status is GrantSessionStatus.PENDING:
        intro = _INTRO.get(session.reason, _INTRO["requested"])
        card.header(f"Authorize {name}", template="blue").markdown(f"**{name}** {intro}")
        card.button("Authorize", url=url, type="primary")
        card.button("New link", value=_value(GRANT_NEW_LINK, session, scope))
        card.button("Cancel", value=_value(GRANT_CANCEL, session), type="danger")
        card.note(f"This link works once, until {_utc(session.expires_at)}.")
    elif session.status is GrantSessionStatus.COMPLETED:
        card.header(f"{name} is authorized", template="green")
        card.markdown("Thank you: the authorization is done. You can revoke it at any time.")
    elif session.status is GrantSessionStatus.EXPIRED:
        card.header("Authorization link expired", template="grey")
        card.markdown(f"This link to authorize **{name}** has expired.")
        card.button("New link", value=_value(GRANT_NEW_LINK, session), type="primary")
    elif session.reason == CANCELLED:
        card.header("Authorization cancelled", template="grey")
        card.markdown(f"**{name}** was not authorized: you cancelled the request.")
    else:
        card.header("Authorization failed", template="red")
        card.markdown(f"**{name}** was not authorized ({session.reason or 'unknown reason'}).")
    return card.build()


def _value(action: str, session: GrantSession, scope: str = "") -> dict[str, Any]:
    value = {"action": action, "session_id": session.session_id}
    if scope:
        value["scope"] = scope
    return value
