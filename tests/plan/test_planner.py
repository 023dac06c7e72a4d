"""Planning: the right step, once, never to a payer; consolidation; catch-up policies."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hub.plan.planner import plan
from hub.send.preview import preview_plan
from hub.store.db import session
from hub.store.models import Dispatch, DispatchInvoice, Invoice
from hub.sync.engine import sync_all
from tests import memory_plugins
from tests.conftest import BASE_CONFIG, TODAY, customer, invoice

D = dt.timedelta


def load(ws, *records):
    memory_plugins.LEDGERS["default"][:] = list(records)
    reports = asyncio.run(sync_all(ws))
    assert all(r.ok for r in reports), reports


def planned(ws):
    with session(ws.engine) as s:
        rows = s.execute(select(Invoice.number, Dispatch.step, Dispatch.id).join(
            DispatchInvoice, DispatchInvoice.invoice_id == Invoice.id).join(
            Dispatch, Dispatch.id == DispatchInvoice.dispatch_id).order_by(Invoice.number)).all()
    return [(n, st) for n, st, _ in rows]


SEPARATE = BASE_CONFIG.replace("  standard:\n", "  standard:\n    one_voice: false\n")


def test_due_steps_are_planned_once(make_ws):
    ws = make_ws(SEPARATE)
    load(ws, customer("C1"),
         invoice("1", "C1", TODAY + D(days=7)),     # courtesy due today
         invoice("2", "C1", TODAY - D(days=3)),     # first reminder due today
         invoice("3", "C1", TODAY + D(days=30)))    # nothing yet
    r1 = plan(ws, today=TODAY)
    assert planned(ws) == [("INV-1", "due-7d"), ("INV-2", "due+3d")]
    assert r1.created == 2
    r2 = plan(ws, today=TODAY)
    assert r2.created == 0 and len(planned(ws)) == 2
    # the next day, nothing new either (steps are at-most-once, not daily)
    assert plan(ws, today=TODAY + D(days=1)).created == 0


def test_paid_void_disputed_and_credit_notes_are_never_planned(make_ws):
    ws = make_ws()
    due = TODAY - D(days=3)
    load(ws, customer("C1"),
         invoice("paid", "C1", due, status="paid"),
         invoice("void", "C1", due, status="void"),
         invoice("disp", "C1", due, disputed=True),
         invoice("zero", "C1", due, amount="0.00"),
         invoice("cn", "C1", due, amount="10.00", kind="credit_note"),
         invoice("ok", "C1", due))
    plan(ws, today=TODAY)
    assert planned(ws) == [("INV-ok", "due+3d")]


def test_dry_run_changes_nothing_and_shows_why(make_ws):
    ws = make_ws()
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3), amount="1234.56"))
    report = preview_plan(ws, today=TODAY)
    assert planned(ws) == []
    [row] = report.preview
    assert row.invoices == ["INV-1"] and str(row.amounts["EUR"]) == "1234.5600"
    assert "3 days overdue" in row.why and row.channel == "email"


def test_consolidation_groups_a_customers_invoices_per_step(make_ws):
    ws = make_ws(BASE_CONFIG.replace("  standard:\n", "  standard:\n    consolidate: per_customer\n"))
    load(ws, customer("C1"), customer("C2"),
         invoice("1", "C1", TODAY - D(days=3)), invoice("2", "C1", TODAY - D(days=3)),
         invoice("3", "C2", TODAY - D(days=3)))
    plan(ws, today=TODAY)
    with session(ws.engine) as s:
        counts = sorted(s.execute(select(Dispatch.invoice_count)).scalars())
    assert counts == [1, 2]


LATEST = BASE_CONFIG.replace("  standard:\n", "  standard:\n    escalation: latest\n")


def test_escalation_latest_sends_only_the_latest_missed_step(make_ws):
    ws = make_ws(LATEST)
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20)))
    plan(ws, today=TODAY)
    assert planned(ws) == [("INV-1", "due+15d")]
    # and the earlier steps are never sent afterwards
    assert plan(ws, today=TODAY + D(days=1)).created == 0


def test_a_first_contact_is_never_a_later_step_and_each_step_is_earned(make_ws):
    """20 days overdue, never reminded: the first reminder, not the second; the second
    only `min_gap` (7) days after it; the courtesy note is for before the due date."""
    ws = make_ws()
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20)))
    plan(ws, today=TODAY)
    assert planned(ws) == [("INV-1", "due+3d")]
    assert plan(ws, today=TODAY + D(days=6)).created == 0  # too soon after the first
    plan(ws, today=TODAY + D(days=7))
    assert planned(ws) == [("INV-1", "due+3d"), ("INV-1", "due+15d")]


def test_hub_off_for_days_then_the_case_resumes_at_its_next_step(make_ws):
    ws = make_ws()
    load(ws, customer("C1"), invoice("1", "C1", TODAY + D(days=8)))
    assert plan(ws, today=TODAY).created == 0
    # the hub is off from TODAY+1 to TODAY+30: three steps passed meanwhile
    assert plan(ws, today=TODAY + D(days=30)).created == 1
    assert planned(ws) == [("INV-1", "due+3d")]  # the next unsent one, not a jump


def test_catch_up_all_sends_every_missed_step_one_per_cycle(make_ws):
    ws = make_ws(LATEST.replace("  standard:\n", "  standard:\n    catch_up: all\n"))
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=20)))
    steps = []
    for day in range(3):
        plan(ws, today=TODAY + D(days=day))
        steps.append(planned(ws)[-1][1])
    assert steps == ["due-7d", "due+3d", "due+15d"]
    assert plan(ws, today=TODAY + D(days=3)).created == 0


def test_catch_up_none_skips_steps_older_than_the_window(make_ws):
    ws = make_ws(BASE_CONFIG.replace("  standard:\n",
                                     "  standard:\n    catch_up: none\n    catch_up_window: 2\n"))
    load(ws, customer("C1"), invoice("old", "C1", TODAY - D(days=20)),
         invoice("recent", "C1", TODAY - D(days=4)))
    plan(ws, today=TODAY)
    assert planned(ws) == [("INV-recent", "due+3d")]


def test_when_conditions_and_assignment_rules(make_ws):
    cfg = BASE_CONFIG.replace(
        "      - {at: due+15d, channel: email, template: second_reminder}",
        "      - {at: due+15d, channel: email, template: second_reminder, when: \"amount_due < 1000\"}",
    ).replace("assign:\n  - {scenario: standard}",
              "  gentle:\n    steps:\n      - {at: due+30d, channel: email, template: first_reminder}\n"
              "assign:\n  - {when: \"segment == 'key_account'\", scenario: gentle}\n"
              "  - {scenario: standard}")
    ws = make_ws(cfg.replace("  standard:\n", "  standard:\n    escalation: latest\n"
                                               "    one_voice: false\n"))
    due = TODAY - D(days=16)
    load(ws, customer("C1"), customer("K1", segment="key_account"),
         invoice("small", "C1", due, amount="999.99"), invoice("big", "C1", due, amount="1000.00"),
         invoice("key", "K1", due))
    plan(ws, today=TODAY)
    # big fails the due+15d condition: it falls back to the latest step it qualifies for
    assert planned(ws) == [("INV-big", "due+3d"), ("INV-small", "due+15d")]


def test_promise_pauses_reminders_until_its_date(make_ws):
    ws = make_ws()
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3),
                                     promised_until=TODAY + D(days=5)))
    assert plan(ws, today=TODAY).created == 0
    assert plan(ws, today=TODAY + D(days=6)).created == 1


def test_store_refuses_a_second_row_for_the_same_invoice_scenario_step(make_ws):
    ws = make_ws()
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)))
    plan(ws, today=TODAY)
    with session(ws.engine) as s:
        di = s.execute(select(DispatchInvoice)).scalars().one()
        s.expunge(di)
    with pytest.raises(IntegrityError), session(ws.engine) as s:
        s.execute(DispatchInvoice.__table__.insert().values(
            dispatch_id=di.dispatch_id, invoice_id=di.invoice_id, scenario=di.scenario,
            step=di.step, step_index=di.step_index))
    with session(ws.engine) as s:
        assert s.execute(select(func.count()).select_from(DispatchInvoice)).scalar() == 1


def test_one_voice_a_customer_gets_one_message_a_day_at_the_top_step(make_ws):
    """A courtesy note and a first reminder due the same day: one message, the reminder,
    listing both invoices; another customer is not affected."""
    ws = make_ws()
    load(ws, customer("C1"), invoice("1", "C1", TODAY + D(days=7)),
         invoice("2", "C1", TODAY - D(days=3)), customer("C2"), invoice("3", "C2", TODAY - D(days=3)))
    assert plan(ws, today=TODAY).created == 2
    assert planned(ws) == [("INV-1", "due+3d"), ("INV-2", "due+3d"), ("INV-3", "due+3d")]
    with session(ws.engine) as s:
        counts = sorted(s.execute(select(Dispatch.invoice_count)).scalars())
    assert counts == [1, 2]
