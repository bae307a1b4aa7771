"""Event intake: what happens to a push from Lark once it is decrypted and authenticated.

* ``url_verification`` is answered with its challenge;
* every other push is deduplicated by its ``event_id`` (``uuid`` in schema 1.0) in the
  `ProcessedEventStore`, so Lark's redeliveries (it retries a push that was not answered 200
  within 3 s) are dropped, across restarts too; entries expire after ``dedup_ttl``;
* ``app_ticket`` pushes are stored for the marketplace app (the pool reads them to get its
  app_access_token);
* card callbacks are routed by the action their button's value names
  (`card_actions`: the app's handler of that name, then the one for every app), else to the
  card handler registered for the app; the return value (a card, a toast, or both) is the
  answer, within a deadline under Lark's 3 s budget, and a routed handler's follow-up work
  (an in-place card update) runs after the answer;
* every other event is published on the `EventBus` under ``<app_id>.<event_type>``, as the
  JSON Lark sent (decrypted), byte for byte.

The id is recorded before the publish, and forgotten again when the publish fails (the caller
answers an error, so Lark delivers the push again): an event is published once, or not at all
and redelivered. A crash between the two loses the event (its redelivery is a duplicate).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from lark_service.application.usecases.card_actions import (
    CardActionHandler,
    CardActionRouter,
    CardAnswer,
    FollowUps,
    read_action,
)
from lark_service.domain.events import (
    APP_TICKET,
    EventDecodeError,
    EventInProgressError,
    EventKind,
    LarkEvent,
)
from lark_service.domain.ports.app_tickets import AppTicketStore
from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.events import EventBus
from lark_service.domain.ports.metrics import Metrics, NullMetrics
from lark_service.domain.ports.processed_events import ProcessedEventStore

__all__ = [
    "DEFAULT_CARD_DEADLINE",
    "DEFAULT_CARD_UPDATE_DEADLINE",
    "DEFAULT_CARD_UPDATE_DELAY",
    "DEFAULT_DEDUP_TTL",
    "CardHandler",
    "EventIntake",
    "EventReply",
]

log = logging.getLogger("lark_service.events")

# The JSON object answered to Lark: {"challenge": ...}, {"msg": "success"}, a card or toast.
EventReply = dict[str, Any]
# A card callback handler: gets the callback, returns the answer (None answers ``{}``).
CardHandler = Callable[[LarkEvent], Awaitable[EventReply | None]]

# Lark stops redelivering long before (its last retry: ~7 h after the first try); the service's
# ``event_dedup_retention`` setting (`entrypoints.settings`) defaults to this
DEFAULT_DEDUP_TTL = 7 * 24 * 3600.0
DEFAULT_CARD_DEADLINE = 2.5  # seconds: Lark gives a card callback 3 s, the network some of it
# an update after an answer: started once the answer is likely at Lark (a card in the answer
# would otherwise replace the update), and given up after the deadline
DEFAULT_CARD_UPDATE_DELAY = 0.2
DEFAULT_CARD_UPDATE_DEADLINE = 10.0
TICKET_TTL = 12 * 3600.0  # an app_ticket is good for about 12 h (the Go SDK keeps it so long)
SUCCESS: EventReply = {"msg": "success"}
# how long a delivery being handled keeps a redelivery of the same event out; handling is
# bounded well below it (a publish's deadline, a card's 3 s)
CLAIM_TTL = 60.0
_CLAIM = "claim:"


class EventIntake:
    """Answers, deduplicates, stores and publishes authenticated pushes from Lark."""

    def __init__(
        self,
        *,
        bus: EventBus,
        processed: ProcessedEventStore,
        tickets: AppTicketStore,
        clock: Clock,
        dedup_ttl: float = DEFAULT_DEDUP_TTL,
        card_deadline: float = DEFAULT_CARD_DEADLINE,
        card_update_delay: float = DEFAULT_CARD_UPDATE_DELAY,
        card_update_deadline: float = DEFAULT_CARD_UPDATE_DEADLINE,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics: Metrics = metrics if metrics is not None else NullMetrics()
        self.bus = bus
        self.processed = processed
        self.tickets = tickets
        self.clock = clock
        self.dedup_ttl = dedup_ttl
        self.card_deadline = card_deadline
        self._card_handlers: dict[str | None, CardHandler] = {}
        self._card_actions = CardActionRouter()
        self.card_updates = FollowUps(delay=card_update_delay, deadline=card_update_deadline)

    def register_card_handler(self, handler: CardHandler, *, app_id: str | None = None) -> None:
        """Answer the card callbacks of ``app_id`` (of every app without one of its own, when
        ``None``) with ``handler``'s return value: ``{"toast": {...}, "card": {...}}`` or
        ``None`` for ``{}``. A handler still running at ``card_deadline`` is cancelled and
        ``{}`` answered. Apps without a handler get ``{}``, and their callbacks are published
        like events."""
        self._card_handlers[app_id] = handler

    def register_card_action(
        self, name: str, handler: CardActionHandler, *, app_id: str | None = None
    ) -> None:
        """Answer the clicks on buttons whose value is ``{"action": name, ...}`` (of ``app_id``,
        or of every app without a handler of that name, when ``None``) with ``handler``.

        It returns a dict, None (``{}``) or a `CardAnswer` whose ``then`` runs after the
        answer, within ``card_update_deadline`` s, its failure logged. Routed actions come
        before `register_card_handler`'s handlers; an action nobody registered goes there.
        """
        self._card_actions.register(name, handler, app_id=app_id)

    async def accept(self, app_id: str, event: LarkEvent) -> EventReply:
        """Handle one authenticated push to ``app_id``; returns the JSON to answer Lark with.

        A failed publish (or store) raises: the caller must answer an error so that Lark
        delivers the push again.
        """
        if event.kind is EventKind.URL_VERIFICATION:
            return {"challenge": event.challenge}
        event_type = event.event_type or "unknown"
        self.metrics.event_received(app_id=app_id, event_type=event_type)
        key = _dedup_key(app_id, event) if event.event_id else None
        if key is not None and not await self._claim(key, event):
            log.info("dropped a redelivery of %s %s", event.event_type, event.event_id)
            self.metrics.event_deduplicated(app_id=app_id, event_type=event_type)
            return {} if event.kind is EventKind.CARD_ACTION else SUCCESS
        try:
            if event.kind is EventKind.CARD_ACTION:
                reply = await self._card_callback(app_id, event)
            else:
                if event.event_type == APP_TICKET:
                    await self._save_ticket(app_id, event)
                else:
                    await self._publish(app_id, event)
                reply = SUCCESS
        except BaseException:
            if key is not None:  # so that Lark's redelivery is handled, not dropped
                await self.processed.forget_event(_CLAIM + key)
            raise
        if key is not None:
            await self._settle(key)
        return reply

    async def prune(self) -> int:
        """Forget the event ids that have expired; returns how many."""
        return await self.processed.prune_events(before=self.clock.now())

    async def _claim(self, key: str, event: LarkEvent) -> bool:
        """Claim the event for this delivery: ``False`` if it was handled already.

        The id is recorded as handled only once the handling succeeded; until then a short
        claim keeps a concurrent redelivery out (`EventInProgressError`, so Lark sends it
        again later). A claim left by a process that died expires after ``CLAIM_TTL``.
        """
        now = self.clock.now()
        claimed = await self.processed.remember_event(_CLAIM + key, expires_at=now + CLAIM_TTL)
        if not claimed and not await self.processed.seen_event(_CLAIM + key, now=now):
            await self.processed.forget_event(_CLAIM + key)  # the claim of a dead handler
            claimed = await self.processed.remember_event(_CLAIM + key, expires_at=now + CLAIM_TTL)
        if not claimed:
            raise EventInProgressError(
                f"{event.event_type or 'the event'} {event.event_id} is being handled already"
            )
        if await self.processed.seen_event(key, now=now):
            await self.processed.forget_event(_CLAIM + key)
            return False
        return True

    async def _settle(self, key: str) -> None:
        """Record the event as handled (then drop its claim: in that order, see `_claim`)."""
        await self.processed.remember_event(key, expires_at=self.clock.now() + self.dedup_ttl)
        await self.processed.forget_event(_CLAIM + key)

    async def _publish(self, app_id: str, event: LarkEvent) -> None:
        await self.bus.publish(f"{app_id}.{event.event_type}", event.raw)

    async def _save_ticket(self, app_id: str, event: LarkEvent) -> None:
        ticket = event.event.get("app_ticket")
        if not isinstance(ticket, str) or not ticket:
            raise EventDecodeError("an app_ticket event needs event.app_ticket", app_id=app_id)
        expires_at = self.clock.now() + TICKET_TTL
        await self.tickets.save_app_ticket(app_id, ticket, expires_at=expires_at)
        log.info("stored a new app_ticket for %s", app_id)

    async def _card_callback(self, app_id: str, event: LarkEvent) -> EventReply:
        action = read_action(app_id, event)
        if action is None:
            log.info("a card callback of %s names no action in its value", app_id)
        else:
            routed = self._card_actions.find(app_id, action.name)
            if routed is not None:
                name = action.name[:64]  # a name Lark sent back, quoted in logs
                answer = await self._within_deadline(lambda: routed(action), app_id, name)
                if isinstance(answer, CardAnswer):
                    if answer.then is not None:
                        self.card_updates.start(app_id, name, answer.then)
                    answer = answer.reply
                return self._checked_reply(answer, app_id)
            log.info("no handler for the card action %r of %s", action.name[:64], app_id)
        handler = self._card_handlers.get(app_id) or self._card_handlers.get(None)
        if handler is not None:
            return await self._answer_card(handler, app_id, event)
        await self._publish(app_id, event)
        return {}

    async def _within_deadline(
        self, call: Callable[[], Awaitable[object]], app_id: str, what: str
    ) -> object:
        try:
            async with asyncio.timeout(self.card_deadline):
                return await call()
        except TimeoutError:
            late = "the card handler %r of %s took more than %g s: answered {}"
            log.warning(late, what, app_id, self.card_deadline)
        except Exception:
            log.exception("the card handler %r of %s failed: answered {}", what, app_id)
        return None

    async def _answer_card(self, handler: CardHandler, app_id: str, event: LarkEvent) -> EventReply:
        reply = await self._within_deadline(lambda: handler(event), app_id, "*")
        return self._checked_reply(reply, app_id)

    def _checked_reply(self, reply: object, app_id: str) -> EventReply:
        if reply is None:
            return {}
        if not isinstance(reply, dict):
            log.warning("the card handler of %s returned a %s, not a dict", app_id, type(reply))
            return {}
        return reply


def _dedup_key(app_id: str, event: LarkEvent) -> str:
    # per app: an id one app's pushes carry can never drop another app's event
    return f"{app_id}:{event.event_id}"
