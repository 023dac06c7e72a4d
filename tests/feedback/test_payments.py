"""Payment links on the way to a send, reused while the amount holds; paid webhooks stop
the scenario at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import httpx
import pytest
import respx
from sqlalchemy import select

from hub.feedback.apply import apply_payment
from hub.store.db import session
from hub.store.models import Invoice, PaymentLinkRow
from tests import memory_plugins
from tests.conftest import BASE_CONFIG, customer, invoice
from tests.send.test_dispatcher import send, setup

D = dt.timedelta
TODAY = dt.date.today()
CONFIG = BASE_CONFIG.replace(
    "      - {at: due+3d, channel: email, template: first_reminder}",
    "      - {at: due+3d, channel: email, template: first_reminder, payment_link: stripe}").replace(
    "      - {at: due+15d, channel: email, template: second_reminder}",
    "      - {at: due+15d, channel: email, template: second_reminder, payment_link: stripe}") + """
payment_providers:
  stripe: {settings: {api_key: sk_test_1, webhook_secret: whsec_1}}
"""


@pytest.fixture
def stripe_api():
    n = {"links": 0}

    def new_link(request):
        n["links"] += 1
        return httpx.Response(200, json={"id": f"plink_{n['links']}", "object": "payment_link",
                                         "url": f"https://buy.stripe.com/l{n['links']}"})

    with respx.mock(assert_all_called=False) as r:
        r.post("https://api.stripe.com/v1/prices").mock(
            return_value=httpx.Response(200, json={"id": "price_1", "object": "price"}))
        r.post("https://api.stripe.com/v1/payment_links").mock(side_effect=new_link)
        r.post(url__regex=r"https://api\.stripe\.com/v1/payment_links/plink_\d+").mock(
            return_value=httpx.Response(200, json={"id": "plink_1", "active": False}))
        yield r


def test_link_created_reused_while_the_amount_holds_then_replaced(make_ws, stripe_api):
    from hub.plan.planner import plan

    ws = make_ws(CONFIG)
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3), amount="250.00"))
    send(ws)
    first = memory_plugins.SENT["email"][-1]
    assert first.payment_link == "https://buy.stripe.com/l1"
    # twelve days later, the next step: same amount → the same link, no new create
    memory_plugins.LEDGERS["default"][1] = invoice("1", "C1", TODAY - D(days=3), amount="250.00")
    with session(ws.engine) as s:
        s.execute(Invoice.__table__.update().values(due_date=TODAY - D(days=16)))
    plan(ws)
    memory_plugins.LEDGERS["default"][1] = invoice("1", "C1", TODAY - D(days=16), amount="250.00")
    send(ws)
    assert memory_plugins.SENT["email"][-1].payment_link == first.payment_link
    assert len([c for c in stripe_api.calls if c.request.url.path == "/v1/payment_links"]) == 1
    with session(ws.engine) as s:
        assert s.execute(select(PaymentLinkRow.provider_ref, PaymentLinkRow.active)).all() == \
            [("plink_1", True)]
    # a partial payment changes the amount: the old link is deactivated, a new one made
    from decimal import Decimal

    from hub.send.compose import Work, payment_link
    from hub.store.models import Customer, Dispatch

    with session(ws.engine) as s:
        d = s.execute(select(Dispatch)).scalars().first()
        inv = s.execute(select(Invoice)).scalar_one()
        inv.amount_due = Decimal("100.00")
        work = Work(d, s.get(Customer, d.customer_id), [inv], "ledger")
    row = asyncio.run(payment_link(ws, work, "stripe"))
    assert row.provider_ref == "plink_2" and row.amount == Decimal("100.00")
    with session(ws.engine) as s:
        rows = dict(s.execute(select(PaymentLinkRow.provider_ref, PaymentLinkRow.active)).all())
    assert rows == {"plink_1": False, "plink_2": True}
    assert any(c.request.url.path == "/v1/payment_links/plink_1" for c in stripe_api.calls)


def paid(ws, **kw):
    from decimal import Decimal

    from hub.contracts import PaymentReceived

    event = PaymentReceived(provider_ref="plink_1", invoice_refs=(), amount=Decimal("250.00"),
                            currency="EUR", **kw)
    return asyncio.run(apply_payment(ws, event, source="payment_provider:stripe"))


def test_paid_webhook_holds_the_invoice_and_stops_the_scenario(make_ws, stripe_api):
    from hub.plan.planner import plan

    ws = make_ws(CONFIG)
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3), amount="250.00"))
    send(ws)
    assert paid(ws) == 1
    with session(ws.engine) as s:
        inv = s.execute(select(Invoice)).scalar_one()
    assert inv.hub_paid_ref == "plink_1" and inv.status == "open"  # as the ledger says, for now
    assert plan(ws, today=TODAY + D(days=30)).created == 0
    assert json.dumps([m.dispatch_id for m in memory_plugins.SENT["email"]]) == "[1]"


def test_a_payment_we_learned_of_sticks_until_the_ledger_records_it(make_ws, stripe_api):
    """The ledger has not recorded the payment yet: neither the next sync nor the
    fresh-check, which both still read the invoice open, brings the reminder back."""
    from hub.plan.planner import plan
    from hub.sync.engine import sync_all

    ws = make_ws(CONFIG)
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3), amount="250.00"))
    send(ws)
    paid(ws)
    asyncio.run(sync_all(ws, full=True))  # the ledger still says open
    with session(ws.engine) as s:
        s.execute(Invoice.__table__.update().values(due_date=TODAY - D(days=16)))
    memory_plugins.LEDGERS["default"][1] = invoice("1", "C1", TODAY - D(days=16), amount="250.00")
    assert plan(ws).created == 0  # the planner holds it
    report = send(ws)  # and so would the fresh-check
    assert report.sent == 0 and len(memory_plugins.SENT["email"]) == 1
    # the ledger records the payment: the hold has done its work and ends
    memory_plugins.LEDGERS["default"][1] = invoice("1", "C1", TODAY - D(days=16), amount="0",
                                                   status="paid")
    asyncio.run(sync_all(ws, full=True))
    with session(ws.engine) as s:
        inv = s.execute(select(Invoice)).scalar_one()
    assert inv.status == "paid" and inv.hub_paid_at is None


def test_a_replayed_payment_event_is_applied_once(make_ws, stripe_api):
    from hub.store.models import Event

    ws = make_ws(CONFIG)
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3), amount="250.00"))
    send(ws)
    assert paid(ws, event_id="evt_1") == 1
    assert paid(ws, event_id="evt_1") == 0  # Stripe retries deliveries: same id, no effect
    with session(ws.engine) as s:
        assert len(s.execute(select(Event).where(Event.kind == "payment")).all()) == 1


def test_an_async_payment_that_succeeds_later_counts():
    import hashlib
    import hmac
    import time

    from hub.contracts import WebhookRequest
    from hub.testing import make_context
    from plugins.stripe import StripePaymentProvider, StripeSettings

    provider = StripePaymentProvider(StripeSettings(api_key="sk_test_1", webhook_secret="whsec_1"),
                                     make_context("stripe"))
    body = json.dumps({"id": "evt_9", "type": "checkout.session.async_payment_succeeded",
                       "data": {"object": {"id": "cs_1", "payment_link": "plink_1",
                                           "payment_status": "paid", "currency": "eur",
                                           "amount_total": 25000,
                                           "metadata": {"relance_invoices": "ledger:1"}}}}).encode()
    ts = str(int(time.time()))
    sig = hmac.new(b"whsec_1", f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    result = provider.verify_webhook(WebhookRequest(method="POST", path="/", body=body,
                                                    headers={"Stripe-Signature": f"t={ts},v1={sig}"}))
    [event] = result.events
    assert event.event_id == "evt_9" and event.invoice_refs == ("ledger:1",)


def test_delivery_events_update_the_dispatch_and_keep_the_tracking(make_ws):
    from hub.contracts import DeliveryUpdate
    from hub.feedback.apply import apply_delivery
    from hub.store.models import Dispatch, Event

    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)))
    memory_plugins.FAIL["email"] += ["uncertain"]
    send(ws)  # a timeout: the dispatch is uncertain, provider reference unknown to us
    with session(ws.engine) as s:
        s.execute(Dispatch.__table__.update().values(provider_ref="ltr_123"))
    assert apply_delivery(ws, DeliveryUpdate(provider_ref="ltr_123", status="delivered",
                                             tracking={"tracking_number": "9407", "event":
                                                       "letter.certified.delivered"}))
    with session(ws.engine) as s:
        d = s.execute(select(Dispatch)).scalar_one()
        ev = s.execute(select(Event).where(Event.kind == "delivery")).scalar_one()
    assert d.status == "sent" and d.delivery_status == "delivered"  # the provider had it
    assert ev.data["tracking"]["tracking_number"] == "9407"
    assert not apply_delivery(ws, DeliveryUpdate(provider_ref="unknown", status="failed"))
