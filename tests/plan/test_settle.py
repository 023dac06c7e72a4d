"""Promises and payment plans judged by what was paid: kept closes them, broken resumes the
scenario at once (at `on_broken_promise`) and the next message says so."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from hub.plan.cases import open_case
from hub.plan.planner import plan
from hub.store.db import session
from hub.store.models import CaseState, Dispatch
from tests import memory_plugins
from tests.conftest import BASE_CONFIG, TODAY, customer, invoice
from tests.plan.test_planner import load

D = dt.timedelta
CONFIG = BASE_CONFIG.replace("      - {at: due+15d, channel: email, template: second_reminder}",
                             "      - {at: due+15d, channel: email, template: second_reminder}\n"
                             "      - {at: due+30d, channel: email, template: formal_notice}\n"
                             "    on_broken_promise: due+30d")


def reload(ws, *records):
    """The ledger changed: read it all again (the memory ledger's cursor is a position)."""
    import asyncio

    from hub.sync.engine import sync_all

    memory_plugins.LEDGERS["default"][:] = list(records)
    assert all(r.ok for r in asyncio.run(sync_all(ws, full=True)))


def open_state(ws, kind, **kw):
    with session(ws.engine, immediate=True) as s:
        return open_case(s, kind, by="marie", **kw).id


def case(ws, case_id):
    with session(ws.engine) as s:
        return s.get(CaseState, case_id)


def dispatches(ws):
    with session(ws.engine) as s:
        return [(d.scenario, d.step, d.planned_on) for d in
                s.execute(select(Dispatch).order_by(Dispatch.id)).scalars()]


def test_a_broken_promise_resumes_at_the_configured_step_at_once(make_ws):
    ws = make_ws(CONFIG)
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20), amount="500.00"))
    promise = open_state(ws, "promise", invoice="INV-1", until=TODAY + D(days=5),
                         amount=Decimal("500"))
    assert plan(ws, today=TODAY).created == 0  # promised: nothing goes
    assert plan(ws, today=TODAY + D(days=5)).created == 0  # the promised day itself
    report = plan(ws, today=TODAY + D(days=6))
    state = case(ws, promise)
    assert (state.outcome, state.closed_by) == ("broken", "relance")
    assert "0.00 EUR paid of the 500.00 EUR promised" in state.data["closed_because"]
    # resumed at once at the formal notice, not the next reminder after a 7-day gap
    assert report.created == 1 and dispatches(ws) == [("standard", "due+30d", TODAY + D(days=6))]


def test_a_kept_promise_closes_and_nothing_is_sent(make_ws):
    ws = make_ws(CONFIG)
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20), amount="500.00"))
    promise = open_state(ws, "promise", customer="Customer C1", until=TODAY + D(days=5))
    reload(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20), amount="500.00",
                                       status="paid"))
    assert plan(ws, today=TODAY + D(days=6)).created == 0
    assert case(ws, promise).outcome == "kept"


def test_a_payment_plan_reminds_each_instalment_and_a_missed_one_escalates(make_ws):
    from tests.send.test_dispatcher import send

    ws = make_ws(CONFIG + "cases:\n  instalment_reminder: {channel: email, before: 3}\n")
    for own in (ws.root / "templates" / "en").glob("*.j2"):  # the shipped wording
        own.unlink()
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20), amount="600.00"))
    plan_id = open_state(ws, "payment_plan", customer="Customer C1", instalments=[
        (TODAY + D(days=3), Decimal("300")), (TODAY + D(days=33), Decimal("300"))])
    assert case(ws, plan_id).until == TODAY + D(days=33)
    plan(ws, today=TODAY)
    plan(ws, today=TODAY)  # once per instalment
    step = f"instalment-{(TODAY + D(days=3)).isoformat()}"
    assert dispatches(ws) == [("payment_plan", step, TODAY)]
    send(ws)
    [msg] = memory_plugins.SENT["email"]
    assert "the instalment of 300,00" in msg.text and msg.invoices[0].number == "INV-1"
    # the first instalment was paid: the plan holds
    reload(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20), amount="300.00"))
    assert plan(ws, today=TODAY + D(days=10)).created == 0
    assert case(ws, plan_id).closed_at is None
    # the second was not: broken the day after its date, and the notice says why
    plan(ws, today=TODAY + D(days=34))
    state = case(ws, plan_id)
    assert state.outcome == "broken" and "instalment due" in state.data["closed_because"]
    assert dispatches(ws)[-1][1] == "due+30d"
    memory_plugins.SENT["email"].clear()
    send(ws)
    [notice] = memory_plugins.SENT["email"]
    assert "The payment plan we agreed has not been kept" in notice.text


def test_a_partial_dispute_holds_only_its_amount_when_the_scenario_says_so(make_ws):
    from tests.send.test_dispatcher import send

    ws = make_ws(CONFIG.replace("    on_broken_promise: due+30d",
                                "    on_broken_promise: due+30d\n    remind_undisputed: true"))
    for own in (ws.root / "templates" / "en").glob("*.j2"):  # the shipped wording
        own.unlink()
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=5), amount="1000.00"),
         customer("C2"), invoice("2", "C2", TODAY - D(days=5), amount="400.00"))
    open_state(ws, "dispute", invoice="INV-1", amount=Decimal("250"), reason="damaged goods")
    open_state(ws, "dispute", invoice="INV-2", amount=Decimal("400"), reason="never delivered")
    plan(ws, today=TODAY)
    with session(ws.engine) as s:
        [d] = s.execute(select(Dispatch)).scalars().all()
    assert d.amount == 750  # the undisputed rest; INV-2 is disputed in full
    send(ws)
    [msg] = memory_plugins.SENT["email"]
    assert "of which 250,00\xa0€ disputed, not asked for" in msg.text
    assert "Total: 750,00\xa0€" in msg.text


def test_without_remind_undisputed_a_partial_dispute_holds_the_invoice(make_ws):
    ws = make_ws(CONFIG)
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=5), amount="1000.00"))
    open_state(ws, "dispute", invoice="INV-1", amount=Decimal("250"))
    assert plan(ws, today=TODAY).created == 0


def test_a_new_invoice_does_not_count_against_a_customer_s_kept_promise(make_ws):
    ws = make_ws(CONFIG)
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20), amount="500.00"))
    promise = open_state(ws, "promise", customer="Customer C1", until=TODAY + D(days=5),
                         amount=Decimal("500"))
    reload(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20), amount="500.00",
                                       status="paid"),
           invoice("9", "C1", TODAY + D(days=20), amount="400.00"))  # a new one, not yet due
    plan(ws, today=TODAY + D(days=6))
    assert case(ws, promise).outcome == "kept"


def test_without_on_broken_promise_the_next_step_goes_at_once_on_an_open_day(make_ws):
    ws = make_ws(BASE_CONFIG)  # due-7d, due+3d, due+15d
    load(ws, customer("C1"), invoice("1", "C1", TODAY + D(days=2)))
    open_state(ws, "promise", customer="Customer C1", until=TODAY + D(days=5))
    # broken on Monday 30 Nov (due 26 Nov): due+3d was due on the 29th, due+15d not before
    # 11 Dec — the next step goes at once, not when its own date comes
    plan(ws, today=TODAY + D(days=6))
    assert dispatches(ws) == [("standard", "due+3d", TODAY + D(days=6))]


def test_a_step_written_with_spaces_can_be_the_broken_promise_step(make_ws):
    ws = make_ws(CONFIG.replace("{at: due+30d,", "{at: due + 30d,").replace(
        "on_broken_promise: due+30d", "on_broken_promise: due+30d"))
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20)))
    open_state(ws, "promise", customer="Customer C1", until=TODAY + D(days=5))
    plan(ws, today=TODAY + D(days=6))  # used to raise StopIteration in every plan
    assert dispatches(ws) == [("standard", "due+30d", TODAY + D(days=6))]


def test_a_case_state_from_before_the_upgrade_is_not_judged_on_nothing(make_ws):
    ws = make_ws(CONFIG)
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20)))
    state_id = open_state(ws, "promise", customer="Customer C1", until=TODAY + D(days=5),
                          amount=Decimal("100"))
    with session(ws.engine, immediate=True) as s:  # as 0.6 stored it: no balance
        s.execute(CaseState.__table__.update().values(data={}))
    plan(ws, today=TODAY + D(days=6))
    assert case(ws, state_id).closed_at is None  # lapsed by its date, never "broken"


def test_instalment_reminders_wait_for_a_person_when_every_dispatch_does(make_ws):
    ws = make_ws(CONFIG + "cases:\n  instalment_reminder: {channel: email, before: 3}\n"
                 "dispatch:\n  require_approval: true\n")
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20), amount="600.00"))
    open_state(ws, "payment_plan", customer="Customer C1", instalments=[
        (TODAY + D(days=3), Decimal("300")), (TODAY + D(days=33), Decimal("300"))])
    plan(ws, today=TODAY)
    with session(ws.engine) as s:
        d = s.execute(select(Dispatch)).scalar_one()
    assert (d.scenario, d.status) == ("payment_plan", "planned")
