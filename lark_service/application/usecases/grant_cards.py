"""The authorization card a user receives, in each state of its session."""

from __future__ import annotations

import time
from typing import Any

from lark_service.application.clients.cards import CardBuilder
from lark_service.domain.grants import GrantSession, GrantSessionStatus

__all__ = ["authorization_card"]

_INTRO = {
    "requested": "needs your permission to act on your behalf (for example to read "
    "workspace tables as you).",
    "expiring": "will soon lose the permission you gave it: please authorize it again to "
    "keep it working.",
    "lapsed": "lost the permission you gave it: please authorize it again.",
}


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def authorization_card(session: GrantSession, app_name: str, url: str = "") -> dict[str, Any]:
    """The card of ``session``: an Authorize button while pending, a final note after."""
    card = CardBuilder()
    name = app_name or session.app_id
    if session.status is GrantSessionStatus.PENDING:
        intro = _INTRO.get(session.reason, _INTRO["requested"])
        card.header(f"Authorize {name}", template="blue").markdown(f"**{name}** {intro}")
        card.button("Authorize", url=url, type="primary")
        card.note(f"This link works once, until {_utc(session.expires_at)}.")
    elif session.status is GrantSessionStatus.COMPLETED:
        card.header(f"{name} is authorized", template="green")
        card.markdown("Thank you: the authorization is done. You can revoke it at any time.")
    elif session.status is GrantSessionStatus.EXPIRED:
        card.header("Authorization link expired", template="grey")
        card.markdown(f"This link to authorize **{name}** has expired; ask for a new one.")
    else:
        card.header("Authorization failed", template="red")
        card.markdown(f"**{name}** was not authorized ({session.reason or 'unknown reason'}).")
    return card.build()
