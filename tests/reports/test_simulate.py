"""`relance simulate` against calendars written out by hand: the real planner, day by day,
on a copy of the store (the store itself is left as it was)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from hub.plan.cases import open_case
from hub.reports.simulate import simulate
from hub.store.db import session
from hub.store.models import Dispatch
from tests.conftest import BASE_CONFIG, TODAY, customer, invoice, shifting
from tests.plan.test_accounts import credit
from tests.plan.test_planner import load

D = dt.timedelta
SHIFTING = shifting(BASE_CONFIG)  # a step on a weekend waits for Monday


def calendar(rows):
    return [(r["date"], r["customer"], r["step"] or r["why"]) for r in rows]


def test_earned_escalation_a_broken_promise_and_a_netted_credit_over_a_month(make_ws):
    ws = make_ws(SHIFTING)  # courtesy due-7d, first reminder due+3d, second due+15d; min_gap 7
    load(ws, customer("A"), invoice("1", "A", TODAY + D(days=10)),
         customer("B"), invoice("2", "B", TODAY - D(days=20)),
         customer("C"), invoice("3", "C", TODAY - D(days=5)), credit("CN", "C", "150.00"))
    with session(ws.engine, immediate=True) as s:
        open_case(s, "promise", customer="Customer B", until=TODAY + D(days=5), by="marie")
    rows = simulate(ws, TODAY, TODAY + D(days=30))
    assert calendar(rows) == [
        (TODAY + D(days=3), "Customer A", "due-7d"),       # 7 days before its due date
        (TODAY + D(days=6), "Customer B", "promise broken: by 2026-11-29, 0.00 EUR paid of "
                                          "the 100.00 EUR promised"),
        (TODAY + D(days=6), "Customer B", "due+3d"),       # at once, not the latest step
        (TODAY + D(days=13), "Customer A", "due+3d"),      # due+3d, 10 days after the courtesy
        (TODAY + D(days=13), "Customer B", "due+15d"),     # min_gap 7 after the last one
        # due+15d falls on Saturday 19 December: it moves to Monday 21 (closed_days: next)
        (TODAY + D(days=27), "Customer A", "due+15d"),
    ]  # Customer C: the credit covers what is due, on every day
    with session(ws.engine) as s:  # nothing planned in the real store
        assert s.execute(select(func.count()).select_from(Dispatch)).scalar_one() == 0


def test_a_kept_promise_with_assume_paid_and_a_missed_instalment(make_ws):
    ws = make_ws(SHIFTING)
    load(ws, customer("B"), invoice("2", "B", TODAY - D(days=20)),
         customer("P"), invoice("4", "P", TODAY - D(days=20), amount="600.00"))
    with session(ws.engine, immediate=True) as s:
        open_case(s, "promise", customer="Customer B", until=TODAY + D(days=5), by="marie")
        open_case(s, "payment_plan", customer="Customer P", by="marie", instalments=[
            (TODAY + D(days=4), Decimal(300)), (TODAY + D(days=34), Decimal(300))])
    rows = simulate(ws, TODAY, TODAY + D(days=8), assume_paid=True)
    assert calendar(rows) == [  # the instalment of Saturday 28 November is missed
        (TODAY + D(days=5), "Customer P", "payment plan broken: instalment due 2026-11-28 "
                                          "missed: 0.00 EUR paid of the 300.00 EUR due so far"),
        (TODAY + D(days=6), "Customer B", "promise kept: 100.00 EUR paid of the 100.00 EUR "
                                          "promised by 2026-11-29"),
        (TODAY + D(days=6), "Customer P", "due+3d"),  # Sunday is closed: Monday, at once
    ]


CALENDAR_CONFIG = """
company: {name: Acme SAS, country: FR, timezone: Europe/Paris, language: en}
connections: {ledger: {plugin: memory}}
channels: {email: {plugin: capture}}
scenarios:
  standard:
    steps:
      - {at: due+3d, channel: email, template: first_reminder}
assign:
  - {scenario: standard}
"""


def debtors():
    from hub.contracts import Address

    def at(ext, country, region=None):
        return customer(ext, address=Address(city="X", country=country, region=region))
    return (at("F", "FR"), invoice("1", "F", d(2026, 12, 22)),
            at("G", "GB"), invoice("2", "G", d(2026, 12, 22)),
            at("B", "DE", "BY"), invoice("3", "B", d(2027, 1, 3)),
            at("N", "DE"), invoice("4", "N", d(2027, 1, 3)))


def d(y, m, day):
    return dt.date(y, m, day)


def test_each_debtor_s_public_holidays_shift_the_step_to_their_next_open_day(make_ws):
    ws = make_ws(CALENDAR_CONFIG)
    load(ws, *debtors())
    rows = simulate(ws, d(2026, 12, 20), d(2027, 1, 10))
    assert calendar(rows) == [
        (d(2026, 12, 28), "Customer F", "due+3d"),  # Christmas (Fri), weekend → Monday 28
        (d(2026, 12, 29), "Customer G", "due+3d"),  # + Boxing Day observed on Monday 28 (GB)
        (d(2027, 1, 6), "Customer N", "due+3d"),    # Epiphany is no holiday in Germany at large
        (d(2027, 1, 7), "Customer B", "due+3d"),    # … but it is in Bavaria
    ]


def test_a_blackout_period_moves_steps_out_of_it_and_previous_moves_them_back(make_ws, tmp_path):
    ws = make_ws(CALENDAR_CONFIG.replace("    steps:", "    blackout: [12-24..01-02]\n    steps:"))
    load(ws, *debtors()[:4])
    assert calendar(simulate(ws, d(2026, 12, 20), d(2027, 1, 10))) == [
        (d(2027, 1, 4), "Customer F", "due+3d"),  # 25 Dec → after the blackout (Mon 4 Jan)
        (d(2027, 1, 4), "Customer G", "due+3d"),
    ]
    other = tmp_path / "previous"
    other.mkdir()
    ws = make_ws(CALENDAR_CONFIG.replace("    steps:", "    closed_days: previous\n    steps:"),
                 root=other)
    load(ws, *debtors()[:4])
    assert calendar(simulate(ws, d(2026, 12, 20), d(2027, 1, 10))) == [
        (d(2026, 12, 24), "Customer F", "due+3d"),  # Christmas → Thursday 24
        (d(2026, 12, 24), "Customer G", "due+3d"),
    ]


def test_peaks_flag_the_days_with_unusually_many_reminders(make_ws):
    from hub.reports.simulate import peaks

    ws = make_ws(CALENDAR_CONFIG)
    records = []
    for i in range(6):  # six due Friday 27 November: six first reminders on Monday 30
        records += [customer(f"P{i}"), invoice(f"p{i}", f"P{i}", d(2026, 11, 27))]
    for i, due in enumerate((d(2026, 11, 30), d(2026, 12, 1))):
        records += [customer(f"Q{i}"), invoice(f"q{i}", f"Q{i}", due)]
    load(ws, *records)
    days = {r["date"]: (r["reminders"], r["peak"]) for r in peaks(ws, d(2026, 11, 25), 10)}
    assert days[d(2026, 11, 30)] == (6, True)
    assert days[d(2026, 12, 3)] == (1, False) and days[d(2026, 12, 4)] == (1, False)
    assert days[d(2026, 11, 28)] == (0, False)  # Saturday


def test_the_customer_filter_takes_a_code_and_refuses_an_unknown_one(make_ws):
    import pytest

    from hub.errors import PermanentError

    ws = make_ws(CALENDAR_CONFIG)
    load(ws, *debtors())
    rows = simulate(ws, d(2026, 12, 20), d(2027, 1, 10), customer="G")  # its ledger id
    assert {r["customer"] for r in rows} == {"Customer G"}
    with pytest.raises(PermanentError, match="no customer 'Nobody'"):
        simulate(ws, d(2026, 12, 20), d(2026, 12, 21), customer="Nobody")


def test_a_blackout_that_is_not_a_period_is_refused_with_its_place(make_ws):
    import pytest

    from hub.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        make_ws(CALENDAR_CONFIG.replace("    steps:", "    blackout: [24-12..02-01]\n    steps:"))
    assert "relance.yaml:" in str(err.value) and "MM-DD..MM-DD" in str(err.value)
