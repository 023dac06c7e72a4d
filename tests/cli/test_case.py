"""Case states: a dispute, a hold until a date, a promise kept or broken — set and
cleared from the command line, each an audit event naming who."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.cli.test_explain import export
from tests.send.test_unknown_is_not_open import CONFIG

runner = CliRunner()
TODAY = dt.date.today()


@pytest.fixture(autouse=True)
def _test_plugins(monkeypatch):
    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")


def invoke(tmp_path, *args):
    return runner.invoke(app, [*args, "-w", str(tmp_path)], env={"COLUMNS": "300"})


def test_a_dispute_stops_reminders_until_cleared_and_says_who(make_ws, tmp_path):
    make_ws(CONFIG.replace("complete_export: true", "complete_export: false"))
    export(tmp_path, [("INV-1", "C1", "100.00", 10), ("INV-2", "C2", "80.00", 10)])
    invoke(tmp_path, "sync")
    opened = invoke(tmp_path, "case", "open", "dispute", "--invoice", "INV-1",
                    "--reason", "goods damaged", "--by", "marie")
    assert opened.exit_code == 0 and "case 1: dispute opened" in opened.output
    run = json.loads(invoke(tmp_path, "run", "--json").stdout)
    assert run["sent"] == 1  # INV-2 only
    why = json.loads(invoke(tmp_path, "explain", "INV-1", "--json").stdout)
    assert not why["reminded"]
    listed = json.loads(invoke(tmp_path, "case", "list", "--json").stdout)
    assert [(c["kind"], c["invoice"], c["opened_by"], c["reason"]) for c in listed] == \
        [("dispute", "INV-1", "marie", "goods damaged")]
    assert invoke(tmp_path, "case", "close", "1", "--by", "marie").exit_code == 0
    assert json.loads(invoke(tmp_path, "run", "--json").stdout)["sent"] == 1  # now INV-1
    history = json.loads(invoke(tmp_path, "history", "--invoice", "INV-1", "--json").stdout)
    kinds = [e["kind"] for e in history]
    assert "case_opened" in kinds and "case_closed" in kinds
    assert any("by marie" in e["message"] for e in history if e["kind"] == "case_closed")


def test_a_hold_on_a_customer_lapses_at_its_date_and_a_dispute_opened_after_the_plan_stops_the_send(
        make_ws, tmp_path):
    make_ws(CONFIG.replace("complete_export: true", "complete_export: false"))
    export(tmp_path, [("INV-1", "C1", "100.00", 10)])
    invoke(tmp_path, "sync")
    invoke(tmp_path, "case", "open", "hold", "--customer", "C1",
           "--until", (TODAY + dt.timedelta(days=3)).isoformat())
    plan = json.loads(invoke(tmp_path, "plan", "--json").stdout)
    assert plan["dispatches"] == []
    later = json.loads(invoke(tmp_path, "plan", "--json", "--date",
                              (TODAY + dt.timedelta(days=4)).isoformat()).stdout)
    assert len(later["dispatches"]) == 1  # the hold lapsed by itself
    invoke(tmp_path, "case", "close", "1")
    from hub.plan.planner import plan as do_plan
    from hub.workspace import Workspace

    do_plan(Workspace.open(tmp_path))  # planned today, not yet sent
    invoke(tmp_path, "case", "open", "dispute", "--invoice", "INV-1")  # after the plan
    run = json.loads(invoke(tmp_path, "run", "--json", "--no-sync").stdout)
    assert run["sent"] == 0 and run["cancelled"] == 1


def test_bad_case_commands_say_how_to_fix_them(make_ws, tmp_path):
    make_ws(CONFIG)
    export(tmp_path, [("INV-1", "C1", "100.00", 10)])
    invoke(tmp_path, "sync")
    assert "use one of dispute" in invoke(tmp_path, "case", "open", "argue", "--invoice",
                                          "INV-1").output
    assert "needs its date" in invoke(tmp_path, "case", "open", "promise", "--invoice",
                                      "INV-1").output
    assert "relance invoices" in invoke(tmp_path, "case", "open", "dispute", "--invoice",
                                        "NOPE").output
