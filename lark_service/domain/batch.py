"""Chunking an over-size batch into Lark-sized requests, and the error of a partial batch.

`run_chunked` sends the chunks one after another (never concurrently: Bitable rejects
concurrent writes to one table with 1254291) and returns the results in input order. When a
chunk fails after earlier chunks succeeded, the earlier writes cannot be undone, so it raises
`BatchPartialError` naming what was written and what was not, and sends no later chunk. A
failure of the *first* chunk re-raises the original typed error unchanged: nothing was
written, so nothing is partial.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from lark_service.domain.errors import LarkServiceError, ServerError

I = TypeVar("I")  # noqa: E741 - input item
R = TypeVar("R")


class BatchPartialError(LarkServiceError, Generic[R]):
    """A chunked batch stopped part-way: some inputs were written, the rest were not.

    - ``succeeded``: ``(input_index, result)`` for every input written, in input order;
    - ``failed``: input indexes of the chunk Lark rejected (``error`` says why);
    - ``not_sent``: input indexes of the later chunks, never sent;
    - ``error``: the typed error of the failing chunk (also ``__cause__``).

    ``code``, ``http_status``, ``log_id``, ``app_id`` and ``api`` are those of ``error``.
    """

    def __init__(
        self,
        *,
        succeeded: list[tuple[int, R]],
        failed: list[int],
        not_sent: list[int],
        error: LarkServiceError,
    ) -> None:
        super().__init__(
            f"batch stopped part-way: {len(succeeded)} input(s) written, "
            f"{len(failed)} rejected, {len(not_sent)} not sent ({error.msg})",
            code=error.code,
            log_id=error.log_id,
            http_status=error.http_status,
            app_id=error.app_id,
            api=error.api,
        )
        self.succeeded = succeeded
        self.failed = failed
        self.not_sent = not_sent
        self.error = error

    @property
    def unwritten(self) -> list[int]:
        """Every input index that was not written (rejected or never sent)."""
        return [*self.failed, *self.not_sent]


def chunks(items: Sequence[I], size: int) -> list[Sequence[I]]:
    """``items`` cut into consecutive slices of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]


async def run_chunked(
    items: Sequence[I],
    size: int,
    send: Callable[[Sequence[I]], Awaitable[list[R]]],
) -> list[R]:
    """Send ``items`` in chunks of ``size``, sequentially; results in input order.

    ``send`` must return one result per input of its chunk, in order.
    """
    results: list[R] = []
    parts = chunks(items, size)
    start = 0
    for n, part in enumerate(parts):
        try:
            got = await send(part)
            if len(got) != len(part):
                raise ServerError(
                    f"Lark returned {len(got)} result(s) for a batch of {len(part)}", code=-2
                )
        except LarkServiceError as exc:
            if n == 0:
                raise
            end = start + len(part)
            raise BatchPartialError[Any](
                succeeded=list(enumerate(results)),
                failed=list(range(start, end)),
                not_sent=list(range(end, len(items))),
                error=exc,
            ) from exc
        results.extend(got)
        start += len(part)
    return results
