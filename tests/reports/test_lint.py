"""`relance scenarios lint`: each finding names its place in relance.yaml."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.conftest import TODAY, customer, invoice
from tests.plan.test_planner import load

CONFIG = """
company: {name: Acme SAS, country: FR, timezone: Europe/Paris, language: en}
connections: {ledger: {plugin: memory}}
channels: {email: {plugin: capture}}
scenarios:
  standard:
    steps:
      - {at: due+15d, channel: email, template: second_reminder}
      - {at: due+3d, channel: email, template: first_reminder}
      - {at: due+30d, channel: email, template: formal_notice, when: "amount_due > 1000000"}
  forgotten:
    steps:
      - {at: due+3d, channel: email, template: first_reminder}
assign:
  - {scenario: standard}
"""


@pytest.fixture(autouse=True)
def _test_plugins(monkeypatch):
    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")


def test_lint_finds_order_dead_conditions_missing_languages_and_unreached_scenarios(make_ws):
    import datetime as dt

    from hub.reports.lint import lint

    ws = make_ws(CONFIG)
    load(ws, customer("C1"), invoice("1", "C1", TODAY - dt.timedelta(days=3)),
         customer("C2", language="de"), invoice("2", "C2", TODAY - dt.timedelta(days=3)))
    found = {(f["place"], f["message"]) for f in lint(ws, TODAY)}
    assert ("relance.yaml:8", "step due+15d is written first but runs second (steps run in "
            "the order of their offsets)") in found
    assert ("relance.yaml:10", "step due+30d: `when: amount_due > 1000000` holds for none of "
            "the 2 open invoices") in found
    assert any(m.startswith("step due+3d: no de/first_reminder.j2 — 1 customer(s) in de get "
                            "the en one") for _, m in found)
    assert any("scenario forgotten: no `assign` rule" in m for _, m in found)


def test_the_command_exits_1_on_findings(make_ws, tmp_path):
    make_ws(CONFIG)
    result = CliRunner().invoke(app, ["scenarios", "lint", "-w", str(tmp_path)])
    assert result.exit_code == 1 and "relance.yaml:" in result.output
