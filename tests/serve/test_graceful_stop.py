"""SIGTERM on `relance serve` is graceful: the sends in flight finish, nothing new is
claimed, and nothing is left `sending`."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

from sqlalchemy import select

from hub.serve.app import graceful_stop
from hub.serve.scheduler import RUNTIMES, Runtime, run_now, start_scheduler
from hub.store.db import session
from hub.store.models import Dispatch
from tests import memory_plugins
from tests.conftest import BASE_CONFIG, TODAY, customer, invoice
from tests.send.test_dispatcher import setup

SLOW = BASE_CONFIG.replace("    plugin: capture\n", "    plugin: capture\n    settings: {delay: 0.3}\n"
                           "    concurrency: 4\n")


def test_a_stop_in_the_middle_of_a_send_pass_leaves_nothing_sending(make_ws):
    ws = make_ws(SLOW)
    records = []
    for i in range(40):
        records += [customer(f"C{i}"), invoice(str(i), f"C{i}", TODAY - dt.timedelta(days=3))]
    setup(ws, *records)

    async def go():
        rt = Runtime(ws)
        RUNTIMES[str(ws.root)] = rt
        start_scheduler(rt)
        rt.is_leader = True
        run_now(rt, "send")
        for _ in range(100):  # the pass is under way: some sent, more in flight
            await asyncio.sleep(0.05)
            if memory_plugins.SENT["email"]:
                break
        left = await graceful_stop(rt)
        await ws.aclose()
        return left

    assert asyncio.run(go()) == 0
    with session(ws.engine) as s:
        states = Counter(s.execute(select(Dispatch.status)).scalars())
    assert "sending" not in states and "uncertain" not in states, states
    assert states["sent"] == len(memory_plugins.SENT["email"]) > 0
    assert states["approved"] > 0  # what was not claimed waits for the next start
