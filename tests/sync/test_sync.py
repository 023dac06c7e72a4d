"""The sync engine: upserts without duplicates, cursors committed with their page,
bad records reported while the rest imports, one failing connection isolated."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from hub.contracts import Connector, Cursor, InvoiceRecord, PluginSettings, RecordProblem, SyncPage
from hub.errors import AuthError
from hub.hookspecs import hookimpl
from hub.store.db import session
from hub.store.models import Connection, Customer, Event, Invoice
from hub.sync.engine import sync_all, sync_connection
from tests import memory_plugins
from tests.conftest import BASE_CONFIG, TODAY, customer, invoice

LEDGER = memory_plugins.LEDGERS


def count(ws, model, *where):
    with session(ws.engine) as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar()


def run(ws, name="ledger", **kw):
    return asyncio.run(sync_connection(ws, name, **kw))


def test_resync_upserts_without_duplicates(make_ws):
    ws = make_ws()
    LEDGER["default"] += [customer("C1"), invoice("1", "C1", TODAY, amount="100.00")]
    run(ws)
    LEDGER["default"][1] = invoice("1", "C1", TODAY, amount="40.00")  # partial payment
    run(ws, full=True)
    assert count(ws, Invoice) == 1 and count(ws, Customer) == 1
    with session(ws.engine) as s:
        assert s.execute(select(Invoice.amount_due)).scalar() == Decimal("40.00")


def test_money_round_trips_exactly(make_ws):
    ws = make_ws()
    LEDGER["default"] += [customer("C1"),
                          invoice("1", "C1", TODAY, amount="12345678901.2345", currency="KWD")]
    run(ws)
    with session(ws.engine) as s:
        amount = s.execute(select(Invoice.amount_due)).scalar()
    assert isinstance(amount, Decimal) and amount == Decimal("12345678901.2345")


def test_crash_mid_sync_resumes_from_last_committed_page(make_ws):
    ws = make_ws(BASE_CONFIG.replace("plugin: memory", "plugin: memory\n    settings: {page_size: 2}"))
    LEDGER["default"] += [customer("C1")] + [invoice(str(i), "C1", TODAY) for i in range(9)]

    calls = {"n": 0}
    original = memory_plugins.MemoryConnector.sync

    async def dying(self, cursor):
        async for page in original(self, cursor):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("power cut")
            yield page

    memory_plugins.MemoryConnector.sync = dying
    try:
        report = run(ws)
    finally:
        memory_plugins.MemoryConnector.sync = original
    assert not report.ok and "power cut" in report.error
    with session(ws.engine) as s:
        assert s.execute(select(Connection.cursor)).scalar() == {"pos": "4"}
    assert count(ws, Invoice) == 3  # pages 1-2 committed: 1 customer + 3 invoices
    report = run(ws)
    assert report.ok and count(ws, Invoice) == 9


def test_bad_records_are_reported_and_the_rest_imports(make_ws):
    ws = make_ws()
    LEDGER["default"] += [customer("C1"), RecordProblem(place="export.csv:7:due_date",
                                                        reason="'31/02/2026' is not a date"),
                          invoice("1", "C1", TODAY)]
    report = run(ws)
    assert report.ok and report.invoices == 1
    assert report.problems == ["export.csv:7:due_date: '31/02/2026' is not a date"]
    assert count(ws, Event, Event.kind == "record_problem") == 1


class Broken(Connector):
    name = "broken"
    Settings = PluginSettings

    async def sync(self, cursor: Cursor) -> AsyncIterator[SyncPage]:
        raise AuthError("refresh token revoked")
        yield  # pragma: no cover


class BrokenPlugin:
    @hookimpl
    def register_connectors(self, register):
        register(Broken)


def test_auth_failure_marks_needs_reauth_and_others_keep_working(make_ws):
    cfg = BASE_CONFIG.replace("connections:\n", "connections:\n  xero_fr:\n    plugin: broken\n")
    ws = make_ws(cfg, plugins=(memory_plugins.Plugin(), BrokenPlugin()))
    LEDGER["default"] += [customer("C1"), invoice("1", "C1", TODAY)]
    reports = {r.connection: r for r in asyncio.run(sync_all(ws))}
    assert reports["ledger"].ok and not reports["xero_fr"].ok
    assert "refresh token revoked" in reports["xero_fr"].error
    with session(ws.engine) as s:
        state = s.execute(select(Connection.state).where(Connection.name == "xero_fr")).scalar()
    assert state == "needs_reauth"
    again = run(ws, "xero_fr")  # still tried, and still refused: said with the fix
    assert not again.ok and not again.skipped and "relance connect xero_fr" in again.error


def test_complete_snapshot_closes_invoices_missing_from_export(make_ws):
    ws = make_ws()
    LEDGER["default"] += [customer("C1"), invoice("1", "C1", TODAY), invoice("2", "C1", TODAY)]
    run(ws)
    # a snapshot connector: mark the last page complete
    original = memory_plugins.MemoryConnector.sync

    async def snapshot(self, cursor):
        async for page in original(self, {}):
            yield page.model_copy(update={"complete_snapshot": True})

    LEDGER["default"][:] = [customer("C1"), invoice("1", "C1", TODAY)]
    memory_plugins.MemoryConnector.sync = snapshot
    try:
        run(ws)
    finally:
        memory_plugins.MemoryConnector.sync = original
    with session(ws.engine) as s:
        states = dict(s.execute(select(Invoice.number, Invoice.status)).all())
    assert states == {"INV-1": "open", "INV-2": "closed"}


def test_a_person_recorded_dispute_survives_a_ledger_resync(make_ws):
    ws = make_ws()
    LEDGER["default"] += [customer("C1"), invoice("1", "C1", TODAY)]
    run(ws)
    with session(ws.engine) as s:
        s.execute(Invoice.__table__.update().values(disputed=True,
                                                    promised_until=TODAY + dt.timedelta(days=9)))
    run(ws, full=True)
    with session(ws.engine) as s:
        inv = s.execute(select(Invoice)).scalar_one()
    assert inv.disputed and inv.promised_until == TODAY + dt.timedelta(days=9)


def test_float_money_is_refused_at_the_boundary():
    from hub.contracts import InvoiceRecord

    with pytest.raises(ValueError, match="never a float"):
        InvoiceRecord(external_id="1", customer_external_id="C1", number="1", currency="EUR",
                      total=Decimal("0.1"), amount_due=0.1, due_date=TODAY)


def test_a_sync_tunes_the_interpreter_then_restores_it():
    import gc
    import sys

    from hub.sync.bulkmode import bulk_mode

    interval, threshold = sys.getswitchinterval(), gc.get_threshold()
    with bulk_mode():
        assert sys.getswitchinterval() <= 0.0002 and gc.get_threshold()[0] >= 10_000
        assert gc.get_freeze_count() > 0  # what existed before is out of the collector's walk
        with bulk_mode():  # two syncs at once: the first to end must not restore anything
            pass
        assert sys.getswitchinterval() <= 0.0002 and gc.get_freeze_count() > 0
    assert (sys.getswitchinterval(), gc.get_threshold(), gc.get_freeze_count()) == (
        interval, threshold, 0)
    with bulk_mode():  # every few pages a full collection clears the sync's garbage
        class Cycle:
            pass
        before = gc.get_count()
        for _ in range(50):
            a, b = Cycle(), Cycle()
            a.other, b.other = b, a
        del a, b  # 50 unreachable pairs
        collected = []
        gc.callbacks.append(lambda phase, info: collected.append(info) if phase == "stop" else None)
        try:
            for _ in range(8):
                bulk_mode.page_done()
        finally:
            gc.callbacks.pop()
        assert any(info["generation"] == 2 and info["collected"] >= 100 for info in collected), (
            before, collected)
    with pytest.raises(RuntimeError), bulk_mode():
        raise RuntimeError("connector failed")
    assert (sys.getswitchinterval(), gc.get_threshold(), gc.get_freeze_count()) == (
        interval, threshold, 0)


def test_a_page_larger_than_one_sqlite_statement_is_written_whole(make_ws):
    """4,501 invoices: full statements of SQLite's parameter limit, then power-of-two ones."""
    from hub.store.bulk import _chunk_sizes

    assert _chunk_sizes(4501, 2047) == [2047, 2047, 256, 128, 16, 4, 2, 1]
    assert _chunk_sizes(3, 2047) == [2, 1] and _chunk_sizes(0, 10) == []
    ws = make_ws(BASE_CONFIG.replace("    plugin: memory\n",
                                     "    plugin: memory\n    settings: {page_size: 5000}\n", 1))
    records = [customer(f"C{n}") for n in range(50)]
    records += [invoice(str(n), f"C{n % 50}", TODAY, amount=f"{n}.{n % 100:02d}")
                for n in range(1, 4502)]
    memory_plugins.LEDGERS["default"][:] = records
    [report] = asyncio.run(sync_all(ws))
    assert report.ok and report.invoices == 4501 and report.pages == 1  # one page, 8 statements
    with session(ws.engine) as s:
        rows = {i.external_id: i for i in s.execute(select(Invoice)).scalars()}
        customers = {c.id: c.external_id for c in s.execute(select(Customer)).scalars()}
    assert len(rows) == 4501 and rows["4321"].amount_due == Decimal("4321.21")
    assert all(customers[i.customer_id] == f"C{int(i.external_id) % 50}" for i in rows.values())


def test_an_amount_finer_than_the_store_keeps_skips_only_that_record(make_ws):
    from hub.contracts import PaymentRecord

    ws = make_ws()
    memory_plugins.LEDGERS["default"][:] = [
        customer("C1"), invoice("1", "C1", TODAY, amount="12.34567"),
        invoice("2", "C1", TODAY, amount="10.0001"),
        PaymentRecord(external_id="P1", invoice_external_id="2", customer_external_id="C1",
                      amount=Decimal("0.00001"), currency="EUR", date=TODAY)]
    [report] = asyncio.run(sync_all(ws))
    assert report.ok and report.invoices == 1 and report.payments == 0
    assert any("invoice INV-1 (id 1): 12.34567 has more than 4 decimal places" in p
               and p.startswith("connection ledger:") for p in report.problems)
    assert any("payment P1: 0.00001 has more than 4 decimal places" in p for p in report.problems)
    with session(ws.engine) as s:
        [kept] = s.execute(select(Invoice)).scalars().all()
        events = s.execute(select(Event.message).where(Event.kind == "record_problem")).scalars().all()
    assert kept.external_id == "2" and kept.amount_due == Decimal("10.0001")
    assert len(events) == 2


def test_a_column_empty_in_every_row_is_written_null_and_clears_the_stored_value():
    """Such a column is written as `NULL` in the statement (binding None is slow in
    sqlite3); an upsert still clears what the ledger cleared."""
    import sqlite3

    from hub.store.bulk import Upsert

    upsert = Upsert("t", ("k", "a", "b"), ("k",))
    [(text, params)] = upsert.statements("sqlite", [("x", None, 1), ("y", None, None)])
    assert "NULL" in text and params == ("x", 1, "y", None)  # `b` is bound: not empty everywhere
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, a TEXT, b INTEGER)")
    db.execute("INSERT INTO t VALUES ('x', 'old', 5)")
    db.execute(text, params)
    assert db.execute("SELECT * FROM t ORDER BY k").fetchall() == [("x", None, 1), ("y", None, None)]
    [(text, params)] = upsert.statements("sqlite", [("z", None, None)])
    assert params == ("z",)  # only the key is left to bind
    db.execute(text, params)
    assert db.execute("SELECT * FROM t WHERE k = 'z'").fetchall() == [("z", None, None)]


def test_paid_at_is_the_first_sync_that_saw_the_invoice_paid(make_ws):
    ws = make_ws()
    LEDGER["default"] += [customer("C1"), invoice("1", "C1", TODAY, amount="0.00", status="paid",
                                                  total=Decimal("80.00")),
                          invoice("2", "C1", TODAY, amount="30.00", issue_date=TODAY)]
    run(ws)
    with session(ws.engine) as s:
        first = {i.external_id: i for i in s.execute(select(Invoice)).scalars()}
    paid_at = first["1"].paid_at
    assert paid_at is not None and first["2"].paid_at is None
    assert first["1"].total == Decimal("80.00") and first["1"].amount_due == 0
    assert first["2"].issue_date == TODAY and first["1"].issue_date is None
    run(ws, full=True)  # seen paid again: the first time stands
    LEDGER["default"][2] = invoice("2", "C1", TODAY, amount="0.00", status="paid")
    run(ws, full=True)
    with session(ws.engine) as s:
        again = {i.external_id: i for i in s.execute(select(Invoice)).scalars()}
    assert again["1"].paid_at == paid_at and again["2"].paid_at > paid_at
    LEDGER["default"][1] = invoice("1", "C1", TODAY, amount="80.00")  # the payment was reversed
    run(ws, full=True)
    with session(ws.engine) as s:
        assert s.execute(select(Invoice.paid_at).where(Invoice.external_id == "1")).scalar() is None


def test_a_sync_that_refuses_every_record_fails_with_the_first_reason(make_ws):
    from hub.contracts import RecordProblem

    ws = make_ws()
    LEDGER["default"] += [RecordProblem(place=f"api invoice {i}", reason="amount is a float")
                          for i in range(150)]
    report = run(ws)
    assert not report.ok and "every one of the 150 records read was refused" in report.error
    assert "api invoice 0: amount is a float" in report.error and "--full" in report.error
    LEDGER["default"][:] = [customer("C1"), RecordProblem(place="api invoice 9", reason="bad")]
    assert run(ws, full=True).ok  # one bad record among good ones stays a problem, not a failure


def test_a_float_through_trusted_is_called_a_plugin_bug_not_ledger_data(make_ws):
    ws = make_ws()
    bad = InvoiceRecord.trusted(external_id="9", customer_external_id="C1", number="INV-9",
                                currency="EUR", total=120.5, amount_due=120.5, due_date=TODAY)
    LEDGER["default"] += [customer("C1"), invoice("1", "C1", TODAY), bad]
    report = run(ws)
    [problem] = report.problems
    assert "INV-9" in problem and "bug in the connector plugin" in problem
    assert "correct the amount in the ledger" not in problem
