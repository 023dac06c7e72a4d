"""`relance approvals`, `approve`, `reject`: a queue a person can work."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.store.db import session
from hub.store.models import Dispatch, Event
from tests.cli.test_explain import export
from tests.send.test_unknown_is_not_open import CONFIG

runner = CliRunner()
RULES = CONFIG.replace("complete_export: true", "complete_export: false") + \
    "approvals:\n  above: {EUR: 1000}\n"


@pytest.fixture(autouse=True)
def _test_plugins(monkeypatch):
    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")


def invoke(*args):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_queue_shows_each_message_and_why_and_approve_and_reject_work_on_filters(
        make_ws, tmp_path):
    ws = make_ws(RULES)
    export(tmp_path, [("INV-1", "C1", "100.00", 10), ("INV-2", "C2", "5000.00", 10),
                      ("INV-3", "C3", "8000.00", 10), ("INV-4", "C4", "2500.00", 10)])
    w = ["-w", str(tmp_path)]
    invoke("run", *w)  # the small one goes, the three large ones wait
    out = invoke("approvals", *w)
    assert "waits for: above 1000 EUR" in out and "INV-2" in out and "Dear Customer C2" in out
    assert "3 waiting" in out
    rows = json.loads(invoke("approvals", *w, "--json", "--above", "6000"))
    assert [r["customer"] for r in rows] == ["Customer C3"]
    assert "reject" in invoke("reject", *w, "--customer", "C3", "--reason", "in talks",
                              "--by", "marie")
    assert "1 dispatch(es) approved" in invoke("approve", *w, "--below", "3000")
    with session(ws.engine) as s:
        status = dict(s.execute(select(Dispatch.amount, Dispatch.status)).all())
        why = s.execute(select(Event.message).where(Event.kind == "rejected")).scalar_one()
    assert {str(k.normalize()): v for k, v in status.items()} == {
        "1E+2": "sent", "5E+3": "planned", "8E+3": "cancelled", "2.5E+3": "approved"}
    assert why == "rejected by marie: in talks"


def test_reject_needs_a_reason_and_approve_needs_a_target(make_ws, tmp_path):
    make_ws(RULES)
    w = ["-w", str(tmp_path)]
    assert runner.invoke(app, ["reject", "1", *w]).exit_code == 2  # --reason is required
    result = runner.invoke(app, ["approve", *w])
    assert result.exit_code != 0 and "approvals" in result.output


def test_plan_ends_with_what_changed_since_the_last_run(make_ws, tmp_path):
    make_ws(RULES)
    w = ["-w", str(tmp_path)]
    export(tmp_path, [("INV-1", "C1", "100.00", 10), ("INV-2", "C2", "5000.00", 10),
                      ("INV-3", "C3", "300.00", 10)])
    invoke("sync", *w)
    assert invoke("case", "open", "hold", "--invoice", "INV-3", "--until", "2099-01-01", *w)
    out = invoke("plan", *w)
    assert "2 new (1 wait for approval); 1 invoice(s) held by a case state" in out, out
    invoke("run", *w, "--no-sync")  # INV-1 sent, INV-2 waits
    text = (tmp_path / "invoices.csv").read_text().splitlines()
    (tmp_path / "invoices.csv").write_text("\n".join(  # INV-2 paid since it was planned
        line.replace(";open", ";paid") if line.startswith("INV-2;") else line
        for line in text) + "\n")
    invoke("sync", *w)
    changes = json.loads(invoke("plan", *w, "--json"))["changes"]
    assert changes["new"] == 0 and changes["earlier_waiting_for_approval"] == 1
    assert changes["paid_since_planned"] == 1 and changes["held_by_case_states"] == 1
    invoke("run", *w, "--no-sync")  # the send pass takes the paid one out of the queue
    assert "Nothing is waiting for approval" in invoke("approvals", *w)
