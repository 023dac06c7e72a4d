"""Two workers writing back at once write each ledger note once: a note is claimed (with a
lease) before it is written, as payment write-backs already were."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import update

from hub.send import writeback as _wb
from hub.store.db import session
from hub.store.models import Writeback
from tests import memory_plugins
from tests.conftest import customer, invoice
from tests.send.test_dispatcher import send, setup

CONFIG = """
company: {name: Acme, country: FR, timezone: Europe/Paris, language: en}
connections: {ledger: {plugin: memory, writeback: true}}
channels: {email: {plugin: capture}}
scenarios: {standard: {closed_days: ignore, steps: [{at: due+3d, channel: email, template: courtesy}]}}
assign: [{scenario: standard}]
"""


def test_two_passes_at_once_write_each_note_once(make_ws, monkeypatch):
    ws = make_ws(CONFIG)
    due = dt.date.today() - dt.timedelta(days=5)
    setup(ws, *[customer(f"C{i}") for i in range(4)],
          *[invoice(str(i), f"C{i}", due) for i in range(4)])
    send(ws)
    assert len(memory_plugins.NOTES) == 4
    memory_plugins.NOTES.clear()
    with session(ws.engine) as s:  # as if the writes had not happened yet
        s.execute(update(Writeback).values(
            status="pending", next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))

    slow = memory_plugins.MemoryConnector.write_note

    async def write_slowly(self, note):
        await asyncio.sleep(0.05)  # the other pass reads the queue meanwhile
        await slow(self, note)
    monkeypatch.setattr(memory_plugins.MemoryConnector, "write_note", write_slowly)

    async def two_workers():
        return await asyncio.gather(_wb.process_writebacks(ws), _wb.process_writebacks(ws.sibling()))
    results = asyncio.run(two_workers())
    assert sorted(n.invoice_external_id for n in memory_plugins.NOTES) == ["0", "1", "2", "3"]
    assert sum(written for written, _ in results) == 4

