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
    assert "credits of 150.00 EUR cover the 100.00 EUR due" in why


def test_a_net_balance_below_the_minimum_is_not_reminded(make_ws):
    ws = make_ws(BASE_CONFIG + "dispatch:\n  min_amount: {EUR: 5}\n")
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3), amount="4.00"),
         customer("C2"), invoice("2", "C2", TODAY - D(days=3), amount="25.00"),
         credit("CN2", "C2", "21.00"),
         customer("C3"), invoice("3", "C3", TODAY - D(days=3), amount="25.00"))
    assert plan(ws, today=TODAY).created == 1  # only C3 owes 5 or more
    messages = sorted(suppressed(ws))
    assert messages == ["not reminded: 4.00 EUR due after 21.00 EUR of credits, below the "
                        "minimum of 5 EUR", "not reminded: 4.00 EUR due, below the minimum "
                        "of 5 EUR"]


def test_a_partly_covered_customer_is_asked_for_the_net_amount_with_the_credit_on_the_statement(
        make_ws):
    from hub.store.models import Dispatch
    from tests import memory_plugins
    from tests.send.test_dispatcher import send

    ws = make_ws()
    for own in (ws.root / "templates" / "en").glob("*.j2"):  # the shipped wording
        own.unlink()
    load(ws, customer("C2"), invoice("2", "C2", TODAY - D(days=3), amount="100.00"),
         credit("CN2", "C2", "30.00"))
    plan(ws, today=TODAY)
    with session(ws.engine) as s:
        [d] = s.execute(select(Dispatch)).scalars().all()
    assert d.amount == 70  # 100 overdue less the 30 credit
    send(ws)
    [msg] = memory_plugins.SENT["email"]
    assert "Credit note INV-CN2: -30,00\xa0€" in msg.text and "Total: 70,00\xa0€" in msg.text, msg.text
    assert "INV-CN2" in msg.html and "70,00\xa0€" in msg.html


def test_the_payment_link_is_for_the_net_amount(make_ws):
    import asyncio

    from hub.contracts import PaymentLink
    from hub.send.compose import Work, payment_link
    from hub.store.models import Customer, Invoice

    ws = make_ws()
    load(ws, customer("C2"), invoice("2", "C2", TODAY - D(days=3), amount="100.00"),
         credit("CN2", "C2", "30.00"))
    plan(ws, today=TODAY)
    asked = []

    class Provider:
        supports_deactivate = False

        async def create_link(self, req):
            asked.append(req.amount)
            return PaymentLink(provider_ref="pl_1", url="https://pay.example/1",
                               amount=req.amount, currency=req.currency)

    ws.payment_provider = lambda name: Provider()
    with session(ws.engine) as s:
        from hub.store.models import Dispatch
        d = s.execute(select(Dispatch)).scalar_one()
        c = s.execute(select(Customer)).scalar_one()
        invs = list(s.execute(select(Invoice).where(Invoice.kind == "invoice")).scalars())
        creds = list(s.execute(select(Invoice).where(Invoice.kind == "credit_note")).scalars())
    w = Work(d, c, invs, "ledger", credits=creds)
    asyncio.run(payment_link(ws, w, "stripe"))
    assert asked == [invs[0].amount_due - creds[0].amount_due]


def test_without_one_voice_a_credit_is_not_subtracted_from_each_reminder(make_ws):
    from hub.store.models import Dispatch
    from tests import memory_plugins
    from tests.send.test_dispatcher import send

    ws = make_ws(BASE_CONFIG.replace("  standard:\n", "  standard:\n    one_voice: false\n"))
    load(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3), amount="100.00"),
         invoice("2", "C1", TODAY - D(days=20), amount="100.00"),
         credit("CN1", "C1", "150.00"))
    plan(ws, today=TODAY)
    with session(ws.engine) as s:
        amounts = sorted(d.amount for d in s.execute(select(Dispatch)).scalars())
    assert amounts == [100, 100]  # never -50 and -50
    send(ws)
    assert all("150" not in m.text for m in memory_plugins.SENT["email"])
