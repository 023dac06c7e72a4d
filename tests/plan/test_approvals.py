"""Approvals by risk: the rules say what a person must see first; the rest goes by itself."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from hub.plan.planner import plan
from hub.store.db import session
from hub.store.models import Customer, Dispatch
from tests.conftest import BASE_CONFIG, TODAY, customer, invoice
from tests.plan.test_planner import load

D = dt.timedelta
RULES = BASE_CONFIG + """
approvals:
  steps: [second_reminder]
  above: {EUR: 1000}
  segments: [key_account]
"""


def queue(ws) -> dict[str, tuple[str, str | None]]:
    with session(ws.engine) as s:
        return {name: (status, why) for name, status, why in s.execute(
            select(Customer.name, Dispatch.status, Dispatch.approval_reason).join(
                Customer, Customer.id == Dispatch.customer_id))}


def test_the_rules_hold_what_is_risky_and_name_why(make_ws):
    ws = make_ws(RULES)
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3), amount="100.00"),
         customer("C2"), invoice("2", "C2", TODAY - D(days=3), amount="5000.00"),
         customer("C3", segment="key_account"), invoice("3", "C3", TODAY - D(days=3)),
         customer("C4"), invoice("4", "C4", TODAY - D(days=20), amount="2000.00",
                                 currency="GBP"))
    plan(ws, today=TODAY)
    assert queue(ws) == {
        "Customer C1": ("approved", None),
        "Customer C2": ("planned", "above 1000 EUR"),
        "Customer C3": ("planned", "segment key_account"),
        "Customer C4": ("approved", None),  # a GBP amount is not held by a EUR threshold
    }


def test_a_named_step_and_a_first_contact_wait_for_a_person(make_ws):
    ws = make_ws(BASE_CONFIG + "approvals:\n  steps: [second_reminder]\n  first_contact: true\n")
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)))
    plan(ws, today=TODAY)
    assert queue(ws) == {"Customer C1": ("planned", "first contact")}
    with session(ws.engine, immediate=True) as s:  # it went out
        s.execute(Dispatch.__table__.update().values(status="sent"))
    plan(ws, today=TODAY + D(days=13))  # a Monday (not the Sunday before: a closed day)
    with session(ws.engine) as s:
        latest = s.execute(select(Dispatch).order_by(Dispatch.id.desc())).scalars().first()
    assert (latest.step, latest.status, latest.approval_reason) == (
        "due+15d", "planned", "step due+15d")


def test_an_unknown_step_in_the_rules_is_refused_with_its_place(make_ws):
    import pytest

    from hub.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        make_ws(BASE_CONFIG + "approvals:\n  steps: [formal_notise]\n")
    assert "relance.yaml" in str(err.value) and "formal_notise" in str(err.value)


def test_a_case_state_leaves_the_plan_with_its_reason_in_the_history(make_ws):
    from hub.plan.cases import open_case
    from hub.store.models import Event

    ws = make_ws()
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)),
         invoice("2", "C1", TODAY - D(days=20)),
         customer("C2"), invoice("3", "C2", TODAY - D(days=3)))
    with session(ws.engine, immediate=True) as s:
        open_case(s, "hold", customer="Customer C2", until=TODAY + D(days=10), by="marie")
        open_case(s, "dispute", invoice="INV-2", by="marie")
    plan(ws, today=TODAY)
    assert queue(ws) == {"Customer C1": ("approved", None)}
    with session(ws.engine) as s:
        [d] = s.execute(select(Dispatch)).scalars().all()
        why = sorted(s.execute(select(Event.message).where(Event.kind == "suppressed")).scalars())
    assert d.invoice_count == 1  # INV-1 only: the disputed one left
    assert why == ["not reminded today: dispute (case 2)",
                   f"not reminded today: hold (case 1) until {TODAY + D(days=10)}"]
