"""Outcomes that tell the truth: exit codes cron can trust, and a summary that says why
nothing was sent."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.conftest import shifting
from tests.send.test_unknown_is_not_open import CONFIG, export

runner = CliRunner()


@pytest.fixture(autouse=True)
def _test_plugins(monkeypatch):
    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("relance ")


def test_run_exits_1_and_says_why_when_the_export_is_gone(make_ws, tmp_path):
    make_ws(CONFIG)
    export(tmp_path, range(1, 6))
    first = runner.invoke(app, ["run", "-w", str(tmp_path)])
    assert first.exit_code == 0, first.output
    (tmp_path / "invoices.csv").unlink()
    later = runner.invoke(app, ["run", "-w", str(tmp_path)])
    assert later.exit_code == 1
    assert "no file found" in later.output
    assert "every due reminder has already gone out" not in later.output


def test_held_reminders_are_not_called_already_sent(make_ws, tmp_path):
    ws = make_ws(CONFIG)
    export(tmp_path, range(1, 4))
    from hub.store.db import session
    from hub.store.models import Connection

    runner.invoke(app, ["sync", "-w", str(tmp_path)])
    with session(ws.engine) as s:  # the data is older than max_staleness
        s.execute(Connection.__table__.update().values(
            last_sync_ok_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2)))
    result = runner.invoke(app, ["run", "--no-sync", "-w", str(tmp_path)])
    assert "already gone out" not in result.output
    assert "Nothing was sent" in result.output and "3 held" in result.output


def test_history_of_one_invoice_shows_only_its_events_and_says_what_is_hidden(make_ws, tmp_path):
    cfg = CONFIG.replace("  standard:\n", "  standard:\n    consolidate: per_customer\n")
    ws = make_ws(cfg)
    due = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    (tmp_path / "invoices.csv").write_text(
        "invoice_number;customer_id;customer_name;email;currency;amount_due;due_date;status\n"
        f"INV-1;C1;One;c1@example.com;EUR;100;{due};\nINV-2;C1;One;c1@example.com;EUR;50;{due};\n")
    runner.invoke(app, ["sync", "-w", str(tmp_path)])
    plan = runner.invoke(app, ["plan", "--json", "-w", str(tmp_path)])
    assert '"EUR": "150.00"' in plan.output  # the currency's decimals, not 150.0000
    from hub.plan.planner import plan as make_plan

    make_plan(ws)
    (tmp_path / "invoices.csv").write_text(  # INV-2 paid before the send
        "invoice_number;customer_id;customer_name;email;currency;amount_due;due_date;status\n"
        f"INV-1;C1;One;c1@example.com;EUR;100;{due};\nINV-2;C1;One;c1@example.com;EUR;0;{due};paid\n")
    runner.invoke(app, ["run", "--no-sync", "-w", str(tmp_path)])
    mine = runner.invoke(app, ["history", "--invoice", "INV-1", "-w", str(tmp_path)]).output
    assert "INV-2" not in mine and "sent" in mine
    other = runner.invoke(app, ["history", "--invoice", "INV-2", "-w", str(tmp_path)]).output
    assert "INV-2 not reminded: paid" in other
    short = runner.invoke(app, ["history", "--limit", "1", "-w", str(tmp_path)]).output
    assert "older entries hidden" in short


def test_a_run_on_a_closed_day_does_not_claim_everything_went_out(make_ws, tmp_path, monkeypatch):
    """On a Saturday the run sent nothing because the debtors are closed, not because
    every reminder had gone out: it says which, and that the steps wait for Monday."""
    import hub.plan.planner as planner

    make_ws(shifting(CONFIG))
    export(tmp_path, range(1, 3))
    today = dt.date.today()
    saturday = today + dt.timedelta(days=(5 - today.weekday()) % 7)
    monkeypatch.setattr(planner, "today_in", lambda tz: saturday)
    result = runner.invoke(app, ["run", "-w", str(tmp_path)], env={"COLUMNS": "300"})
    assert "already gone out" not in result.output, result.output
    assert "closed day" in result.output and "standard" in result.output
