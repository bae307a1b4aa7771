"""Names and arguments of the RabbitMQ objects this adapter declares.

``lark.send``                      durable queue of send jobs (persistent messages)
``lark.send.retry.<ms>``           one durable queue per retry delay: messages wait there for the
                                   queue's TTL, then dead-letter back to ``lark.send``
``lark.send.dead``                 jobs that ran out of attempts or were declared dead, each with
                                   its last error in the ``x-last-error`` header
``lark.events``                    durable topic exchange, routing key ``<app_id>.<event_type>``

One queue per delay (a TTL on the queue, not on each message) keeps a short delay from waiting
behind a long one: RabbitMQ expires messages only at the head of a queue. Every name can carry a
prefix so that test runs (or several deployments sharing a vhost) stay apart.
"""

from __future__ import annotations

import re

import msgspec

from lark_service.domain.errors import ConfigError

_PREFIX = re.compile(r"[A-Za-z0-9_.:-]{0,64}")


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How often and how late a job is retried before it goes to the dead-letter queue.

    ``max_attempts`` counts deliveries to a handler, the first one included. The delay before
    attempt ``n + 1`` is ``delays[min(n - 1, len(delays) - 1)]`` seconds.
    """

    max_attempts: int = 5
    delays: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)

    def validate(self) -> RetryPolicy:
        if self.max_attempts < 1:
            raise ConfigError("max_attempts must be at least 1")
        if not self.delays or any(d <= 0 or d > 86_400 for d in self.delays):
            raise ConfigError("delays must be non-empty, each in (0, 86400] seconds")
        return self

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th delivery (1-based) failed."""
        return self.delays[min(max(attempt, 1), len(self.delays)) - 1]


class Topology(msgspec.Struct, frozen=True, kw_only=True):
    """The names of every queue and exchange, derived from one optional prefix."""

    prefix: str = ""

    def validate(self) -> Topology:
        if not _PREFIX.fullmatch(self.prefix):
            raise ConfigError(
                "prefix must be at most 64 characters of letters, digits, '_', '.', ':' or '-'"
            )
        return self

    @property
    def send_queue(self) -> str:
        return f"{self.prefix}lark.send"

    @property
    def dead_queue(self) -> str:
        return f"{self.prefix}lark.send.dead"

    @property
    def events_exchange(self) -> str:
        return f"{self.prefix}lark.events"

    def retry_queue(self, delay: float) -> str:
        return f"{self.prefix}lark.send.retry.{delay_ms(delay)}"

    def subscriber_queue(self, name: str) -> str:
        return f"{self.prefix}lark.events.{name}"


def delay_ms(delay: float) -> int:
    return max(1, round(delay * 1000))
