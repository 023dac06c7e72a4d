"""Send tasks given a limit take different batches (the scale-out issue: tasks that all
read the same first rows skipped thousands as busy and left work undone)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest

from hub.clock import utcnow
from hub.send import outbox
from hub.send.dispatcher import Dispatcher
from tests import memory_plugins
from tests.conftest import customer, invoice
from tests.send.test_dispatcher import setup, states

DUE = dt.date.today() - dt.timedelta(days=5)
CONFIG = """
company: {name: Acme SAS, country: FR, timezone: Europe/Paris, language: en}
connections: {ledger: {plugin: memory}}
channels: {email: {plugin: capture}}
scenarios: {standard: {closed_days: ignore, steps: [{at: due+3d, channel: email, template: first_reminder}]}}
assign: [{scenario: standard}]
"""


def _books(ws, n: int) -> None:
    setup(ws, *[customer(f"C{i}") for i in range(n)],
          *[invoice(str(i), f"C{i}", DUE) for i in range(n)])


def _run(ws, worker: str, limit: int):
    async def go():
        try:
            return await Dispatcher(ws, worker=worker).run(limit=limit)
        finally:
            await ws.aclose()
    return asyncio.run(go())


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, make_ws):
    if request.param == "sqlite":
        return make_ws(CONFIG)
    return make_ws(CONFIG, database_url=request.getfixturevalue("pg_url"))


def test_tasks_with_a_limit_take_disjoint_batches_and_leave_nothing(store):
    _books(store, 30)
    a, b = (Dispatcher(store, worker=w) for w in ("task-a", "task-b"))
    first, second = a.due_ids(10, None), b.due_ids(10, None)  # side by side, before any send
    assert len(first) == len(second) == 10 and not set(first) & set(second)
    # a pass without a limit leaves the batches others hold
    assert len(Dispatcher(store, worker="task-c").due_ids(None, None)) == 10
    ra, rb = _run(store, "task-a", 10), _run(store, "task-b", 10)
    rc = _run(store, "task-c", 10)
    assert (ra.sent, rb.sent, rc.sent) == (10, 10, 10)
    assert ra.skipped_busy == rb.skipped_busy == rc.skipped_busy == 0
    assert states(store) == {"sent": 30} and len(memory_plugins.SENT["email"]) == 30


def test_a_dead_tasks_batch_goes_to_another_once_its_lease_ends(store):
    _books(store, 4)
    now = utcnow()
    held = outbox.reserve(store.engine, 4, "dead-task", now, dt.timedelta(minutes=15))
    assert len(held) == 4
    assert outbox.reserve(store.engine, 4, "live", now, dt.timedelta(minutes=15)) == []
    later = now + dt.timedelta(minutes=16)
    assert outbox.reserve(store.engine, 4, "live", later, dt.timedelta(minutes=15)) == held


def test_racing_takers_never_share_a_dispatch(store):
    _books(store, 60)
    got: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def take(name: str) -> None:
        barrier.wait()
        got[name] = outbox.reserve(store.engine, 15, name, utcnow(), dt.timedelta(minutes=5))
    threads = [threading.Thread(target=take, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for ids in got.values() for i in ids]
    assert len(everything) == len(set(everything)) == 60
