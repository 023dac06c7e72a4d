"""Accounts, not invoices: the customer's credits net the overdue balance."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from hub.plan.planner import plan
from hub.store.db import session
from hub.store.models import Event
from tests.conftest import BASE_CONFIG, TODAY, customer, invoice
from tests.plan.test_planner import load

D = dt.timedelta


def credit(ext: str, cust: str, amount: str, currency: str = "EUR"):
    return invoice(ext, cust, TODAY - D(days=40), amount=amount, kind="credit_note",
                   currency=currency)


def reminded(ws) -> set[str]:
    from hub.store.models import DispatchInvoice, Invoice

    with session(ws.engine) as s:
        return set(s.execute(select(Invoice.number).join(
            DispatchInvoice, DispatchInvoice.invoice_id == Invoice.id)).scalars())


def suppressed(ws) -> list[str]:
    with session(ws.engine) as s:
        return list(s.execute(select(Event.message).where(Event.kind == "suppressed")).scalars())


def test_a_credit_that_covers_the_overdue_amount_stops_the_reminder_and_says_why(make_ws):
    ws = make_ws()
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3), amount="100.00"),
         credit("CN1", "C1", "150.00"),
         customer("C2"), invoice("2", "C2", TODAY - D(days=3), amount="100.00"),
         credit("CN2", "C2", "30.00"),  # partly covered: still owes 70
         customer("C3"), invoice("3", "C3", TODAY - D(days=3), amount="100.00"),
         credit("CN3", "C3", "500.00", currency="GBP"))  # another currency nets nothing
    plan(ws, today=TODAY)
    assert reminded(ws) == {"INV-2", "INV-3"}
    [why] = suppressed(ws)
    assert "credits of 150.00 EUR cover the 100.00 EUR overdue" in why


def test_a_net_balance_below_the_minimum_is_not_reminded(make_ws):
    ws = make_ws(BASE_CONFIG + "dispatch:\n  min_amount: {EUR: 5}\n")
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3), amount="4.00"),
         customer("C2"), invoice("2", "C2", TODAY - D(days=3), amount="25.00"),
         credit("CN2", "C2", "21.00"),
         customer("C3"), invoice("3", "C3", TODAY - D(days=3), amount="25.00"))
    assert plan(ws, today=TODAY).created == 1  # only C3 owes 5 or more
    messages = sorted(suppressed(ws))
    assert messages == ["not reminded: 4.00 EUR overdue after 21.00 EUR of credits, below the "
                        "minimum of 5 EUR", "not reminded: 4.00 EUR overdue, below the minimum "
                        "of 5 EUR"]
