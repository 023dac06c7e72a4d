"""Writes requested within a few milliseconds of each other, done in one transaction.

The dispatcher claims every dispatch (approved → sending) before its send and records
it sent after. One transaction each cost more than a fast channel's send; coalesced,
the dispatches in flight share one. A claim's caller awaits it, so the claim is durable
before the send starts. A completion is written within `delay` (a crash in between
leaves the row `sending`, which becomes `uncertain` like any crash mid-send: never
re-sent blindly, held for a person).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """`await submit(item)` → that item's result from `write(batch)`: one call for the
    items submitted within `delay` seconds (at most `max_batch` of them)."""

    def __init__(self, write: Callable[[list[T]], Sequence[R]], *, delay: float = 0.0,
                 max_batch: int = 64):
        self.write, self.delay, self.max_batch = write, delay, max_batch
        self._pending: list[tuple[T, asyncio.Future]] = []
        self._timer: asyncio.Handle | None = None

    def submit(self, item: T) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self.max_batch:
            self.flush()
        elif self._timer is None:
            self._timer = (loop.call_later(self.delay, self.flush) if self.delay
                           else loop.call_soon(self.flush))
        return future

    def flush(self) -> None:
        """Write what is pending now (also called on a timer, and before finishing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            results = self.write([item for item, _ in batch])
        except Exception as exc:  # every caller of this batch sees the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
