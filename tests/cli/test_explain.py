"""`relance explain`, `invoices`, `customers`: what was imported, and why a reminder went
or did not, without opening the database."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.send.test_unknown_is_not_open import CONFIG

runner = CliRunner()
TODAY = dt.date.today()


@pytest.fixture(autouse=True)
def _test_plugins(monkeypatch):
    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")


def export(tmp_path, rows):
    (tmp_path / "invoices.csv").write_text(
        "invoice_id;invoice_number;customer_id;customer_name;email;currency;amount_due;due_date;"
        "status\n" + "".join(f"{n};{n};{c};Customer {c};{c.lower()}@example.com;EUR;{amt};"
                             f"{(TODAY - dt.timedelta(days=late)).isoformat()};open\n"
                             for n, c, amt, late in rows))


def test_explain_says_why_an_invoice_was_not_reminded_and_what_comes_next(make_ws, tmp_path):
    make_ws(CONFIG.replace("complete_export: true", "complete_export: false"))
    export(tmp_path, [("INV-1", "C1", "100.00", 10), ("CN-1", "C1", "-150.00", 10),
                      ("INV-2", "C2", "80.00", 10)])
    assert runner.invoke(app, ["run", "-w", str(tmp_path)]).exit_code == 0
    covered = json.loads(runner.invoke(app, ["explain", "INV-1", "-w", str(tmp_path),
                                             "--json"]).stdout)
    assert not covered["reminded"]
    assert covered["account"] == {"currency": "EUR", "overdue": "100.00", "credits": "150.00",
                                  "net": "-50.00"}
    assert any("credits (150.00 EUR) leave -50.00 EUR overdue" in b for b in covered["blockers"])
    sent = json.loads(runner.invoke(app, ["explain", "INV-2", "-w", str(tmp_path),
                                          "--json"]).stdout)
    assert sent["blockers"] == [] and sent["dispatches"][0]["status"] == "sent"
    assert sent["steps"][0]["state"].startswith("sent (dispatch")
    text = runner.invoke(app, ["explain", "INV-1", "-w", str(tmp_path)],
                         env={"COLUMNS": "300"}).output
    assert "not reminded: the account's credits" in text and "next: nothing while" in text
    missing = runner.invoke(app, ["explain", "NOPE", "-w", str(tmp_path)])
    assert missing.exit_code == 2 and "relance invoices" in missing.output


def test_invoices_and_customers_list_what_was_imported(make_ws, tmp_path):
    make_ws(CONFIG.replace("complete_export: true", "complete_export: false"))
    export(tmp_path, [("INV-1", "C1", "100.00", 10), ("CN-1", "C1", "-30.00", 10),
                      ("INV-2", "C2", "80.00", -5)])
    runner.invoke(app, ["sync", "-w", str(tmp_path)])
    rows = json.loads(runner.invoke(app, ["invoices", "-w", str(tmp_path), "--json"]).stdout)
    assert {r["number"]: r["kind"] for r in rows} == {"INV-1": "invoice", "CN-1": "credit_note",
                                                      "INV-2": "invoice"}
    late = json.loads(runner.invoke(app, ["invoices", "--overdue", "-w", str(tmp_path),
                                          "--json"]).stdout)
    assert [r["number"] for r in late] == ["INV-1"]
    people = {c["name"]: c for c in json.loads(runner.invoke(
        app, ["customers", "-w", str(tmp_path), "--json"]).stdout)}
    assert people["Customer C1"]["net_balance"] == {"EUR": "70.00"}
    assert people["Customer C2"]["last_contact"] is None


def test_explain_under_latest_escalation_names_the_latest_due_step_as_next(make_ws):
    import datetime as dt

    from hub.reports.explain import explain
    from tests.conftest import BASE_CONFIG, customer, invoice
    from tests.plan.test_planner import load

    ws = make_ws(BASE_CONFIG.replace("  standard:\n", "  standard:\n    escalation: latest\n"))
    today = dt.date(2026, 11, 24)
    load(ws, customer("C1"), invoice("1", "C1", today - dt.timedelta(days=74)))
    data = explain(ws, "INV-1", today)
    states = {s["step"]: s["state"] for s in data["steps"]}
    assert states, data
    assert states["due-7d"].startswith("skipped: a later step") and \
        states["due+3d"].startswith("skipped: a later step")
    assert states["due+15d"] == "next: due now"
