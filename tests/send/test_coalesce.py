"""Writes coalesced per time window: one call for the batch, each caller its own answer."""

from __future__ import annotations

import asyncio

import pytest

from hub.send.coalesce import Coalescer


def test_items_submitted_together_share_one_write_and_get_their_own_result():
    calls = []

    def write(batch):
        calls.append(list(batch))
        return [n * 10 for n in batch]

    async def go():
        c = Coalescer(write, delay=0.01)
        first = await asyncio.gather(*(c.submit(n) for n in range(5)))
        later = await c.submit(7)
        return first, later

    first, later = asyncio.run(go())
    assert first == [0, 10, 20, 30, 40] and later == 70
    assert calls == [[0, 1, 2, 3, 4], [7]]


def test_a_full_batch_is_written_at_once_and_a_failure_reaches_every_caller():
    calls = []

    def write(batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("database is locked")
        return batch

    async def go():
        c = Coalescer(write, delay=60, max_batch=3)
        ok = await asyncio.gather(*(c.submit(n) for n in range(3)))  # no 60 s wait
        futures = [c.submit(n) for n in range(2)]
        c.flush()
        return ok, await asyncio.gather(*futures, return_exceptions=True)

    ok, failed = asyncio.run(go())
    assert ok == [0, 1, 2] and calls == [3, 2]
    assert all(isinstance(e, RuntimeError) and "locked" in str(e) for e in failed)


def test_flush_with_nothing_pending_writes_nothing():
    calls = []
    Coalescer(lambda b: calls.append(b) or b).flush()
    assert calls == []
    with pytest.raises(RuntimeError):  # submitting needs a running loop: misuse is loud
        Coalescer(lambda b: b).submit(1)
