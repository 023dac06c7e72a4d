"""`relance claim`: what an overdue invoice may bear, from the store and the company's law."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.send.test_unknown_is_not_open import CONFIG

runner = CliRunner()
HEADER = ("invoice_id;invoice_number;customer_id;customer_name;currency;amount_due;due_date;"
          "status;customer_type\n")


@pytest.fixture(autouse=True)
def _test_plugins(monkeypatch):
    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")


def test_claim_applies_the_company_law_to_the_stored_invoice(make_ws, tmp_path):
    make_ws(CONFIG)
    (tmp_path / "invoices.csv").write_text(
        HEADER + "I1;F-1;C1;Acme Client;EUR;10000.00;2025-03-01;open;\n"
                 "I2;F-2;C2;Jean Dupont;EUR;500.00;2025-03-01;open;particulier\n")
    w = ["-w", str(tmp_path)]
    assert runner.invoke(app, ["sync", *w]).exit_code == 0
    out = json.loads(runner.invoke(app, ["claim", "F-1", "--on", "2025-06-01", "--json", *w]).stdout)
    assert {k: out[k] for k in ("principal", "days_late", "rate_percent", "interest",
                                "fixed_compensation", "total", "currency")} == {
        "principal": "10000.00", "days_late": 92, "rate_percent": "13.15", "interest": "331.45",
        "fixed_compensation": "40.00", "total": "10371.45", "currency": "EUR"}
    assert "L441-10" in out["law"]
    text = runner.invoke(app, ["claim", "F-1", "--on", "2025-06-01", *w]).stdout
    assert "92 days late" in text and "13.15 %" in text
    consumer = runner.invoke(app, ["claim", "F-2", "--on", "2025-06-01", *w])
    assert consumer.exit_code != 0 and "business debtors only" in consumer.output
    german = json.loads(runner.invoke(app, ["claim", "F-2", "--on", "2025-06-01", "--law", "de",
                                            "--json", *w]).stdout)
    assert german["rate_percent"] == "7.27" and german["fixed_compensation"] == "0.00"


def test_an_invoice_s_own_rate_from_the_export_replaces_the_law_s(make_ws, tmp_path):
    make_ws(CONFIG)
    (tmp_path / "invoices.csv").write_text(
        "invoice_id;invoice_number;customer_id;customer_name;currency;amount_due;due_date;"
        "status;interest_rate\nI1;F-1;C1;Acme Client;EUR;10000.00;2025-03-01;open;9,5 %\n"
        "I2;F-2;C1;Acme Client;EUR;100.00;2025-03-01;open;lots\n")
    w = ["-w", str(tmp_path)]
    synced = runner.invoke(app, ["sync", *w])
    assert "invoices.csv:3" in synced.output and "interest_rate" in synced.output
    out = json.loads(runner.invoke(app, ["claim", "F-1", "--on", "2025-06-01", "--json", *w]).stdout)
    # 10,000 × 9.5 % × 92 / 365 = 239.452… → 239.45; the €40 still applies
    assert (out["rate_percent"], out["interest"], out["fixed_compensation"]) == (
        "9.5", "239.45", "40.00")
    assert "own rate" in out["law"]


def test_a_number_option_that_is_not_one_is_a_usage_error_naming_it(make_ws, tmp_path):
    make_ws(CONFIG)
    for args in (["claim", "F-1", "--rate", "NaN"], ["approvals", "--above", "lots"],
                 ["case", "open", "promise", "--invoice", "F-1", "--until", "2026-12-31",
                  "--amount", "Infinity"]):
        result = runner.invoke(app, [*args, "-w", str(tmp_path)])
        assert result.exit_code == 2 and args[-1] in result.output, (args, result.output)
