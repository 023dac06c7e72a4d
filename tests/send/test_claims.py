"""A `claim_fees` step: the notice states the interest and compensation the law allows, and
the ledger note on the original invoice says so when `writeback_claims` is on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from hub.clock import today_in
from hub.store.db import session
from hub.store.models import Dispatch
from tests import memory_plugins
from tests.conftest import customer, invoice
from tests.send.test_dispatcher import send, setup

CONFIG = """
company: {name: Acme SAS, country: FR, timezone: Europe/Paris, language: en}
connections:
  ledger: {plugin: memory, writeback: true, writeback_claims: true}
channels: {email: {plugin: capture}}
scenarios:
  standard:
    closed_days: ignore
    escalation: latest
    steps:
      - {at: due+30d, channel: email, template: formal_notice, claim_fees: true}
assign:
  - {scenario: standard}
"""
# the rate of the second half of 2026 as the workspace would add it (a test value)
RATES = "ecb_mro:\n  rates:\n    - {from: 2026-06-30, rate: \"2.00\"}\n  known_until: 2026-12-31\n"


def test_the_notice_claims_the_fees_and_the_ledger_note_states_them(make_ws):
    ws = make_ws(CONFIG)
    for own in (ws.root / "templates" / "en").glob("*.j2"):  # the shipped wording
        own.unlink()
    (ws.root / "law").mkdir()
    (ws.root / "law" / "rates.yaml").write_text(RATES)
    today = today_in("Europe/Paris")  # the company's day, as the planner counts it
    due = today - dt.timedelta(days=40)
    setup(ws, customer("C1"), invoice("1", "C1", due, amount="10000.00"))
    send(ws)
    [msg] = memory_plugins.SENT["email"]
    assert "Code de commerce, art. L441-10" in msg.text and "40 days late" in msg.text
    assert "Interest and compensation claimed:" in msg.text
    [note] = memory_plugins.NOTES
    assert "interest" in note.text and "fixed compensation 40.00 EUR" in note.text
    assert "(40 days late)" in note.text


def test_without_the_rate_nothing_is_claimed_on_a_guess(make_ws, tmp_path, monkeypatch):
    from hub.law import rates

    shipped = tmp_path / "shipped.yaml"  # a timeline that stops before this half-year
    today = today_in("Europe/Paris")  # the company's day, as the planner counts it
    stop = dt.date(today.year, 1 if today.month <= 6 else 7, 1) - dt.timedelta(days=1)
    shipped.write_text(f"ecb_mro:\n  source: ecb\n  rates:\n    - {{from: 2024-12-18, "
                       f"rate: \"3.15\"}}\n  known_until: {stop.isoformat()}\n")
    monkeypatch.setattr(rates, "SHIPPED", shipped)
    ws = make_ws(CONFIG)
    today = today_in("Europe/Paris")  # the company's day, as the planner counts it
    setup(ws, customer("C1"), invoice("1", "C1", today - dt.timedelta(days=40),
                                      amount=str(Decimal("10000.00"))))
    report = send(ws)
    assert report.sent == 0 and memory_plugins.SENT["email"] == []
    with session(ws.engine) as s:
        d = s.execute(select(Dispatch)).scalar_one()
    assert d.status == "failed" and "law/rates.yaml" in d.last_error
