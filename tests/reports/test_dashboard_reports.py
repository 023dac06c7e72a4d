"""`relance report dso|effectiveness|collector`, checked against figures worked by hand."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.reports.collection import effectiveness
from hub.reports.dso import dso_trend
from hub.store.db import session
from hub.store.models import Connection, Customer, Dispatch, DispatchInvoice, Invoice
from tests.cli.test_approvals import _test_plugins  # noqa: F401  (the test plugins)

runner = CliRunner()
D = Decimal


def _books(ws, invoices: list[dict]) -> list[int]:
    with session(ws.engine, immediate=True) as s:
        conn = Connection(name="ledger", plugin="memory")
        s.add(conn)
        s.flush()
        cust = Customer(connection_id=conn.id, external_id="C1", name="=HYPERLINK(\"x\")")
        s.add(cust)
        s.flush()
        ids = []
        for n, kw in enumerate(invoices, 1):
            inv = Invoice(connection_id=conn.id, external_id=f"I{n}", customer_id=cust.id,
                          number=f"INV-{n}", currency="EUR", **kw)
            s.add(inv)
            s.flush()
            ids.append(inv.id)
        return ids


def test_countback_dso_follows_the_worked_example(make_ws):
    """The count-back example of support.benjipays.com ("Mastering DSO Calculation: The
    Count-Back Method Explained"): sales of 70,000, 80,000 and 100,000 over three months and
    212,000 receivable at the end. Month 3 and month 2 are used up whole; 32,000 of month 1's
    70,000 remain. The source counts 30-day months (60 + 32/70 × 30 = 73.7); on the real
    calendar of September–November 2026 it is 30 + 31 + 32/70 × 30 = 74.7 days."""
    ws = make_ws()
    _books(ws, [
        dict(issue_date=dt.date(2026, 9, 15), due_date=dt.date(2026, 10, 15), total=D(70000),
             amount_due=D(32000)),
        dict(issue_date=dt.date(2026, 10, 10), due_date=dt.date(2026, 11, 10), total=D(80000),
             amount_due=D(80000)),
        dict(issue_date=dt.date(2026, 11, 5), due_date=dt.date(2026, 12, 5), total=D(100000),
             amount_due=D(100000))])
    today = dt.date(2026, 11, 30)
    rows = {r["month"]: r for r in dso_trend(ws, today, months=3)}
    assert rows["2026-11"]["receivable"] == D(212000)
    assert rows["2026-11"]["dso_days"] == D("74.7") and not rows["2026-11"]["capped"]
    # at the end of October: 112,000 open, October's 80,000 whole (31 days), then 32/70 of
    # September's 30 days = 44.7
    assert rows["2026-10"]["dso_days"] == D("44.7")
    simple = {r["month"]: r for r in dso_trend(ws, today, months=1, method="simple")}
    # 212,000 over the three months' 250,000 of sales, times their 91 days = 77.2
    assert simple["2026-11"]["dso_days"] == D("77.2")


def test_effectiveness_shares_what_was_paid_after_each_step(make_ws):
    ws = make_ws()
    sent = dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC)
    ids = _books(ws, [
        dict(due_date=dt.date(2026, 9, 1), total=D(1000), amount_due=D(0), status="paid",
             paid_at=sent + dt.timedelta(days=5)),
        dict(due_date=dt.date(2026, 9, 1), total=D(3000), amount_due=D(0), status="paid",
             paid_at=sent + dt.timedelta(days=20)),
        dict(due_date=dt.date(2026, 9, 1), total=D(1000), amount_due=D(1000))])
    with session(ws.engine, immediate=True) as s:
        d = Dispatch(idempotency_key="k1", customer_id=1, scenario="standard", step="due+3d",
                     step_index=1, channel="email", template="first_reminder", status="sent",
                     planned_on=sent.date(), sent_at=sent, currency="EUR", amount=D(5000),
                     invoice_count=3)
        s.add(d)
        s.flush()
        for iid in ids:
            s.add(DispatchInvoice(dispatch_id=d.id, invoice_id=iid, scenario="standard",
                                  step="due+3d", step_index=1))
    [row] = effectiveness(ws, dt.date(2026, 11, 30))
    # of 5,000 reminded: 1,000 paid on day 5, 3,000 on day 20, 1,000 not yet
    assert (row["paid_within_7d_pct"], row["paid_within_14d_pct"],
            row["paid_within_30d_pct"]) == (D("20.0"), D("20.0"), D("80.0"))
    assert row["median_days_to_pay"] == 12.5 and row["reminders"] == 1


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_reports_export_without_letting_a_cell_become_a_formula(make_ws, tmp_path, fmt):
    ws = make_ws()
    _books(ws, [dict(issue_date=dt.date.today(), due_date=dt.date.today(), total=D(10),
                     amount_due=D(10))])
    with session(ws.engine, immediate=True) as s:
        from hub.plan.cases import open_case

        open_case(s, "dispute", customer="C1", reason="=1+1", by="marie")
    out = tmp_path / f"collector.{fmt}"
    result = runner.invoke(app, ["report", "collector", "-w", str(tmp_path), "--format", fmt,
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        text = out.read_text()
        assert "'=HYPERLINK" in text and "'=1+1" in text  # defused, still readable
    elif fmt == "xlsx":
        from openpyxl import load_workbook

        cells = [c for row in load_workbook(out).active.iter_rows() for c in row]
        risky = [c for c in cells if isinstance(c.value, str) and c.value.startswith("=")]
        assert risky and all(c.data_type == "s" for c in risky)
    else:
        rows = json.loads(out.read_text())
        assert {r["list"] for r in rows} == {"disputes"} and rows[0]["by"] == "marie"
    bad = runner.invoke(app, ["report", "collector", "-w", str(tmp_path), "--format", "xlsx"])
    assert bad.exit_code == 2 and "--output" in bad.output


def test_a_past_month_end_owes_what_was_not_yet_paid_then(make_ws):
    """Issued in September for 1,000; 400 paid on 5 October, the rest on 10 November: owed
    1,000 at the end of September, 600 at the end of October, nothing at the end of November."""
    from hub.reports.dso import receivable_at
    from hub.store.models import Payment

    ws = make_ws()
    _books(ws, [dict(issue_date=dt.date(2026, 9, 20), due_date=dt.date(2026, 10, 20),
                     total=D(1000), amount_due=D(0), status="paid",
                     paid_at=dt.datetime(2026, 11, 10, 15, tzinfo=dt.UTC)),
                dict(issue_date=dt.date(2026, 10, 2), due_date=dt.date(2026, 11, 2),
                     total=D(500), amount_due=D(200))])  # 300 paid on 20 November
    with session(ws.engine, immediate=True) as s:
        for n, (ext, amount, day) in enumerate((("I1", 400, dt.date(2026, 10, 5)),
                                                ("I1", 600, dt.date(2026, 11, 10)),
                                                ("I2", 300, dt.date(2026, 11, 20))), 1):
            s.add(Payment(connection_id=1, external_id=f"P{n}", invoice_external_id=ext,
                          amount=D(amount), currency="EUR", date=day))
    with session(ws.engine) as s:
        assert receivable_at(s, dt.date(2026, 9, 30)) == {"EUR": D(1000)}
        assert receivable_at(s, dt.date(2026, 10, 31)) == {"EUR": D(600) + D(500)}
        assert receivable_at(s, dt.date(2026, 11, 30)) == {"EUR": D(200)}
