"""Never a reminder on data we cannot vouch for: a missing export, an invoice the source no
longer returns, an export that would close the ledger — each holds or drops the send."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select

from hub.plan.planner import plan
from hub.serve.cycle import daily_cycle
from hub.store.db import session
from hub.store.models import Dispatch, Invoice
from hub.sync.engine import sync_all, sync_connection
from tests import memory_plugins

TODAY = dt.date.today()
CONFIG = """
company: {name: Acme SAS, country: FR, timezone: Europe/Paris, language: en}
connections:
  books:
    plugin: csv
    settings: {path: invoices.csv, complete_export: true}
channels:
  email: {plugin: capture}
scenarios:
  standard:
    closed_days: ignore
    steps:
      - {at: due+3d, channel: email, template: first_reminder}
assign:
  - {scenario: standard}
"""
HEADER = "invoice_id;invoice_number;customer_id;customer_name;email;currency;amount_due;due_date;status\n"


def export(root, numbers, status="open"):
    due = (TODAY - dt.timedelta(days=10)).isoformat()
    rows = "".join(f"{n};INV-{n};C{n};Customer {n};c{n}@example.com;EUR;100.00;{due};{status}\n"
                   for n in numbers)
    (root / "invoices.csv").write_text(HEADER + rows)


def run(ws, **kw):
    async def go():
        try:
            return await daily_cycle(ws, **kw)
        finally:
            await ws.aclose()
    return asyncio.run(go())


def open_count(ws) -> int:
    with session(ws.engine) as s:
        return s.execute(select(func.count()).select_from(Invoice).where(
            Invoice.status == "open")).scalar_one()


def test_an_export_deleted_after_a_good_sync_holds_every_send(make_ws, tmp_path):
    ws = make_ws(CONFIG)
    export(tmp_path, range(1, 21))
    assert all(r.ok for r in asyncio.run(sync_all(ws)))
    (tmp_path / "invoices.csv").unlink()
    summary = run(ws)
    assert memory_plugins.SENT["email"] == []
    assert summary["sent"] == 0 and summary["held"] == 20
    [sync] = summary["sync"]
    assert not sync["ok"] and "no file found" in sync["error"]
    assert open_count(ws) == 20  # unknown is not paid either: nothing closed


def test_an_invoice_the_source_no_longer_returns_is_not_reminded(make_ws, tmp_path):
    ws = make_ws(CONFIG)
    export(tmp_path, range(1, 21))
    asyncio.run(sync_all(ws))
    export(tmp_path, range(1, 11))  # ten deleted in the ledger; no sync before the send
    summary = run(ws, sync=False)
    sent = {m.invoices[0].number for m in memory_plugins.SENT["email"]}
    assert sent == {f"INV-{n}" for n in range(1, 11)}
    assert summary["sent"] == 10 and summary["cancelled"] == 10


def test_a_header_only_export_closes_nothing_and_fails_the_sync(make_ws, tmp_path):
    ws = make_ws(CONFIG)
    export(tmp_path, range(1, 101))
    asyncio.run(sync_all(ws))
    (tmp_path / "invoices.csv").write_text(HEADER)
    [report] = asyncio.run(sync_all(ws))
    assert not report.ok and "no data rows" in report.error and report.closed == 0
    assert open_count(ws) == 100
    [again] = asyncio.run(sync_all(ws))
    assert not again.ok and "no data rows" in again.error


def test_an_export_that_lost_most_open_invoices_is_refused_until_a_person_accepts(make_ws, tmp_path):
    ws = make_ws(CONFIG)
    export(tmp_path, range(1, 101))
    asyncio.run(sync_all(ws))
    export(tmp_path, range(1, 41))  # 60 % gone: a truncated export, or a wrong one
    [report] = asyncio.run(sync_all(ws))
    assert not report.ok and report.closed == 0
    assert "lists 40 of the 100 open invoices" in report.error and "invoices.csv" in report.error
    assert "--accept-shrink" in report.error and open_count(ws) == 100
    [still] = asyncio.run(sync_all(ws))  # the same file again: refused again, not skipped
    assert not still.ok and "lists 40 of the 100" in still.error
    accepted = asyncio.run(sync_connection(ws, "books", accept_shrink=True))
    assert accepted.ok and accepted.closed == 60 and open_count(ws) == 40


def test_an_invoice_that_reopens_after_being_closed_is_planned_again(make_ws, tmp_path):
    ws = make_ws(CONFIG)
    export(tmp_path, [1, 2])
    asyncio.run(sync_all(ws))
    assert plan(ws).created == 2
    export(tmp_path, [1])  # invoice 2 vanishes from the export before the send
    asyncio.run(sync_connection(ws, "books", accept_shrink=True))
    run(ws, sync=False)
    assert [m.invoices[0].number for m in memory_plugins.SENT["email"]] == ["INV-1"]
    export(tmp_path, [1, 2])  # the export is fixed: invoice 2 is open again
    asyncio.run(sync_all(ws))
    summary = run(ws)
    assert summary["planned"] == 1
    assert [m.invoices[0].number for m in memory_plugins.SENT["email"]] == ["INV-1", "INV-2"]
    with session(ws.engine) as s:
        assert s.execute(select(func.count()).select_from(Dispatch).where(
            Dispatch.status == "sent")).scalar_one() == 2


def test_an_unchanged_complete_export_is_not_read_again_nor_its_problems_appended(make_ws,
                                                                                 tmp_path):
    from hub.store.models import Event

    ws = make_ws(CONFIG)
    export(tmp_path, range(1, 4))
    with (tmp_path / "invoices.csv").open("a") as f:
        f.write("9;INV-9;C9;Customer 9;c9@example.com;XXQ;100.00;2026-01-01;open\n")

    def problems() -> int:
        with session(ws.engine) as s:
            return s.execute(select(func.count()).select_from(Event).where(
                Event.kind == "record_problem")).scalar_one()

    first = asyncio.run(sync_connection(ws, "books"))
    assert first.ok and len(first.problems) == 1 and problems() == 1
    again = asyncio.run(sync_connection(ws, "books"))
    assert again.ok and again.invoices == 0 and problems() == 1  # not read, not re-reported
    assert open_count(ws) == 3  # and nothing closed by the skipped read
    export(tmp_path, range(1, 3))  # changed: read again, and the missing invoice closes
    changed = asyncio.run(sync_connection(ws, "books"))
    assert changed.ok and changed.invoices == 2 and open_count(ws) == 2
