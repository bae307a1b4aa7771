"""The user grants page's rows: who has a grant or an authorization under way, and its state.

Read through `GrantService` (its grant store and session store), never keeping a token: a
grant's token is loaded only to copy its expiry times and scope.

States, per (app, user):

* ``pending``: no grant yet, an authorization session (the card) is open;
* ``active``: a grant whose refresh token lapses later than the token-care window;
* ``expiring``: a grant whose refresh token lapses within it (token care prompts the user);
* ``lapsed``: a grant whose refresh token has expired, or no grant any more while a session
  opened by token care (``expiring`` or ``lapsed``: the refresh failed or ran out) is open.

A grant revoked (deleted) with no session open leaves nothing to list, and the stores list
only grants with a refresh token (the service always asks for ``offline_access``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lark_service.application.usecases.grants import GrantService
from lark_service.domain.grants import GrantSession

# the stores list grants by "refresh token lapses before": far enough to mean all of them
_ALL_GRANTS = 100 * 365 * 86400.0
_CARE_REASONS = ("expiring", "lapsed")


class GrantState(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRING = "expiring"
    LAPSED = "lapsed"


_ORDER = {GrantState.LAPSED: 0, GrantState.EXPIRING: 1, GrantState.PENDING: 2, GrantState.ACTIVE: 3}


@dataclass(frozen=True, slots=True)
class GrantRow:
    """One user of one app; times are epoch seconds (0: none).

    ``granted`` says whether a grant is stored; its ``granted_at`` is ``None`` when the store
    does not know it (a grant kept before the time was recorded).
    """

    app_id: str
    user_id: str
    state: GrantState
    detail: str
    access_expires_at: float = 0.0
    refresh_expires_at: float = 0.0
    scope: str = ""
    card: GrantSession | None = None  # the open authorization session, if any
    granted: bool = False
    granted_at: float | None = None


def _grant_state(refresh_expires_at: float, now: float, window: float) -> tuple[GrantState, str]:
    if refresh_expires_at <= now:
        return GrantState.LAPSED, "the refresh token has expired"
    if refresh_expires_at - now <= window:
        return GrantState.EXPIRING, "the refresh token lapses within the token-care window"
    return GrantState.ACTIVE, ""


async def grant_rows(grants: GrantService) -> list[GrantRow]:
    """Every user with a grant or an open authorization session, by app, worst state first."""
    now = grants.pool.clock.now()
    cards: dict[tuple[str, str], GrantSession] = {}
    for session in await grants.sessions.pending_sessions():  # oldest first: keep the newest
        cards[(session.app_id, session.user_id)] = session
    rows: dict[tuple[str, str], GrantRow] = {}
    for found in await grants.grants.expiring_user_grants(now + _ALL_GRANTS):
        token = await grants.grants.load_user_token(found.app_id, found.user_id)
        if token is None:  # deleted meanwhile
            continue
        state, detail = _grant_state(token.refresh_expires_at, now, grants.expiring_within)
        key = (token.app_id, token.user_id)
        rows[key] = GrantRow(
            app_id=token.app_id,
            user_id=token.user_id,
            state=state,
            detail=detail,
            access_expires_at=token.expires_at,
            refresh_expires_at=token.refresh_expires_at,
            scope=token.scope,
            card=cards.get(key),
            granted=True,
            granted_at=token.granted_at,
        )
    for key, session in cards.items():
        if key in rows:
            continue
        if session.reason in _CARE_REASONS:
            state, detail = GrantState.LAPSED, "the grant could not be refreshed; card sent"
        else:
            state, detail = GrantState.PENDING, "waiting for the user to authorize"
        rows[key] = GrantRow(session.app_id, session.user_id, state, detail, card=session)
    return sorted(rows.values(), key=lambda r: (r.app_id, _ORDER[r.state], r.user_id))
