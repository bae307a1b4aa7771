"""Card callbacks routed by the action a button names, answered first, updated after.

A button that calls back carries a ``value`` naming its action: ``{"action": "<name>", ...}``
(``event.action.value`` in ``card.action.trigger``, ``action.value`` in the old callback; a
plain string value is the name itself). `read_action` reads a callback into a `CardAction`;
`CardActionRouter` finds the handler of a name, the app's own before the one for every app.

Lark waits 3 s for the answer to a callback and applies the card in it, so a handler answers
quickly (a toast, `CardAnswer.toast`) and leaves slow work, such as replacing the card with
``PATCH /open-apis/im/v1/messages/{message_id}``, to ``then``: `FollowUps` starts it once the
answer is out (a short delay, so that the answer reaches Lark before the update), bounded by
a deadline, and logs its failure instead of raising it (nobody is left to raise it to).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lark_service.domain.errors import ConfigError
from lark_service.domain.events import CARD_ACTION_V1, LarkEvent

__all__ = [
    "ACTION_KEY",
    "CardAction",
    "CardActionHandler",
    "CardActionRegistry",
    "CardActionRouter",
    "CardAnswer",
    "FollowUp",
    "FollowUps",
    "read_action",
]

log = logging.getLogger("lark_service.events.cards")

ACTION_KEY = "action"
_NAME_MAX = 128
TOAST_TYPES = frozenset({"success", "info", "warning", "error"})

# Work to run after the answer is sent (an in-place card update, say).
FollowUp = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class CardAction:
    """One click on a button of a card, as a handler sees it.

    ``update_token`` is Lark's card update token (for the delayed-update API, valid 30 min);
    it is kept out of the repr.
    """

    app_id: str
    name: str
    value: dict[str, Any]
    operator_open_id: str
    message_id: str
    chat_id: str
    event: LarkEvent
    update_token: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class CardAnswer:
    """The answer to a callback (``{"toast": ..., "card": ...}`` or ``{}``) and the work to
    do after it."""

    reply: dict[str, Any] = field(default_factory=dict)
    then: FollowUp | None = None

    @classmethod
    def toast(cls, content: str, *, kind: str = "info", then: FollowUp | None = None) -> CardAnswer:
        """A toast of ``kind`` (success, info, warning, error), then ``then``."""
        if kind not in TOAST_TYPES:
            raise ConfigError(f"toast kind must be one of {sorted(TOAST_TYPES)}")
        return cls({"toast": {"type": kind, "content": content}}, then)


# A routed handler: gets the click, returns the answer (a dict, or None for ``{}``).
CardActionHandler = Callable[[CardAction], Awaitable[CardAnswer | dict[str, Any] | None]]


class CardActionRegistry(Protocol):
    """Where card actions are registered (`EventIntake`)."""

    def register_card_action(
        self, name: str, handler: CardActionHandler, *, app_id: str | None = None
    ) -> None: ...


def read_action(app_id: str, event: LarkEvent) -> CardAction | None:
    """The action a callback names; None when its value names none (or is not Lark's)."""
    body = event.event
    if event.event_type == CARD_ACTION_V1:  # the old callback keeps all of it at the top
        operator, context = body, body
    else:
        operator, context = _dict(body.get("operator")), _dict(body.get("context"))
    raw_value = _dict(body.get("action")).get("value")
    name: object
    value: dict[str, Any]
    if isinstance(raw_value, str):
        name, value = raw_value, {ACTION_KEY: raw_value}
    elif isinstance(raw_value, dict):
        name, value = raw_value.get(ACTION_KEY), raw_value
    else:
        return None
    if not isinstance(name, str) or not name or len(name) > _NAME_MAX:
        return None
    return CardAction(
        app_id=app_id,
        name=name,
        value=value,
        operator_open_id=_str(operator.get("open_id")),
        message_id=_str(context.get("open_message_id")),
        chat_id=_str(context.get("open_chat_id")),
        event=event,
        update_token=_str(body.get("token")),
    )


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


class CardActionRouter:
    """Handlers by (app, action name); an app's own handler wins over the one for all."""

    def __init__(self) -> None:
        self._handlers: dict[tuple[str | None, str], CardActionHandler] = {}

    def register(self, name: str, handler: CardActionHandler, *, app_id: str | None = None) -> None:
        if not isinstance(name, str) or not name or len(name) > _NAME_MAX:
            raise ConfigError(f"a card action name is 1 to {_NAME_MAX} characters")
        self._handlers[(app_id, name)] = handler

    def find(self, app_id: str, name: str) -> CardActionHandler | None:
        return self._handlers.get((app_id, name)) or self._handlers.get((None, name))


class FollowUps:
    """Runs what answers leave for later: after ``delay`` s, within ``deadline`` s each."""

    def __init__(self, *, delay: float, deadline: float) -> None:
        if delay < 0 or deadline <= 0:
            raise ConfigError("the card update delay must be >= 0 and its deadline positive")
        self.delay = delay
        self.deadline = deadline
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, app_id: str, name: str, work: FollowUp) -> None:
        task = asyncio.get_running_loop().create_task(self._run(app_id, name, work))
        self._tasks.add(task)  # held: the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, within: float) -> bool:
        """Wait up to ``within`` s for the work started so far; whether it all ended."""
        tasks = set(self._tasks)
        if not tasks:
            return True
        _, left = await asyncio.wait(tasks, timeout=within)
        return not left

    async def aclose(self) -> None:
        """Cancel what has not ended (at shutdown)."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, app_id: str, name: str, work: FollowUp) -> None:
        try:
            await asyncio.sleep(self.delay)  # the answer goes out first
            async with asyncio.timeout(self.deadline):
                await work()
        except TimeoutError:
            self.failed += 1
            late = "the update after card action %r of %s took more than %g s: cancelled"
            log.warning(late, name, app_id, self.deadline)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.failed += 1
            log.exception("the update after card action %r of %s failed", name, app_id)
