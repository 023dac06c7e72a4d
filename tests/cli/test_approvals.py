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
