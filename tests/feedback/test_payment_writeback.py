"""`record_payments: true`: a payment the hub learned of is written to the ledger exactly
once — the amount paid towards each invoice, retried when the ledger is busy, never
recorded twice after an attempt that was cut off."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from hub.contracts import PaymentReceived
from hub.feedback.apply import apply_payment
from hub.send.payment_writeback import process_payment_writebacks
from hub.store.db import session
from hub.store.models import Event, Invoice, PaymentWriteback
from tests import memory_plugins
from tests.conftest import BASE_CONFIG, customer, invoice
from tests.memory_plugins import MemoryConnector
from tests.send.test_dispatcher import setup

TODAY = dt.date.today()
CONFIG = BASE_CONFIG.replace("    plugin: memory\n", "    plugin: memory\n    record_payments: true\n")


def pay(ws, amount: str, *refs: str, event_id: str | None = None, currency: str = "EUR") -> int:
    ev = PaymentReceived(provider_ref="cs_1", invoice_refs=refs or ("ledger:1",),
                         amount=Decimal(amount), currency=currency, event_id=event_id)
    held = asyncio.run(apply_payment(ws, ev, source="payment_provider:stripe"))
    later(ws)  # the writeback pass that follows (serve's job, or the next send pass)
    return held


def later(ws, minutes: int = 0):
    at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    return asyncio.run(process_payment_writebacks(ws, now=lambda: at))


def rows(ws):
    with session(ws.engine) as s:
        return s.execute(select(PaymentWriteback).order_by(PaymentWriteback.id)).scalars().all()


@pytest.fixture
def ws(make_ws):
    ws = make_ws(CONFIG)
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - dt.timedelta(days=20), amount="100.00"),
          invoice("2", "C1", TODAY - dt.timedelta(days=5), amount="150.00"))
    return ws


def test_the_amount_paid_is_recorded_once_however_often_the_event_comes(ws):
    assert pay(ws, "100.00", event_id="evt_1") == 1
    assert pay(ws, "100.00", event_id="evt_1") == 0  # Stripe's retry of the same event
    later(ws, 60)
    [recorded] = memory_plugins.PAYMENTS
    assert recorded.amount == Decimal("100.00") and recorded.invoice_external_id == "1"
    assert recorded.reference == "cs_1" and recorded.idempotency_key.startswith("rl-")
    assert [r.status for r in rows(ws)] == ["done"] and rows(ws)[0].ledger_ref == "pay-1"


def test_a_payment_is_shared_out_oldest_due_first_and_a_part_payment_is_not_held(ws):
    held = pay(ws, "180.00", "ledger:2", "ledger:1")
    assert held == 1  # invoice 1 (due first) is covered; 80 of invoice 2's 150 is paid
    assert sorted((p.invoice_external_id, p.amount) for p in memory_plugins.PAYMENTS) == \
        [("1", Decimal("100.00")), ("2", Decimal("80.00"))]
    with session(ws.engine) as s:
        flags = dict(s.execute(select(Invoice.external_id, Invoice.hub_paid_ref)).all())
    assert flags == {"1": "cs_1", "2": None}  # the rest of invoice 2 is still reminded


def test_a_busy_ledger_is_tried_again_later_and_the_payment_lands_once(ws):
    memory_plugins.PAYMENT_FAILURES.append("retry")
    pay(ws, "100.00")
    assert memory_plugins.PAYMENTS == [] and rows(ws)[0].status == "pending"
    assert later(ws, 0) == (0, 0)  # not due yet: the backoff holds it
    assert later(ws, 120) == (1, 0)
    assert later(ws, 240) == (0, 0)
    assert len(memory_plugins.PAYMENTS) == 1
    with session(ws.engine) as s:
        kinds = s.execute(select(Event.kind).where(Event.kind.like("payment_writeback%"))
                          .order_by(Event.id)).all()
    assert [k for (k,) in kinds] == ["payment_writeback_failed", "payment_writeback"]


def test_an_attempt_cut_off_mid_way_is_never_recorded_twice_on_a_guess(ws):
    memory_plugins.PAYMENT_FAILURES.append("uncertain")
    pay(ws, "100.00")
    [row] = rows(ws)
    assert row.status == "failed" and "check the ledger" in row.last_error
    assert later(ws, 600) == (0, 0) and memory_plugins.PAYMENTS == []


def test_a_crash_after_the_claim_fails_the_row_unless_the_connector_is_idempotent(ws,
                                                                                 monkeypatch):
    with session(ws.engine) as s:  # a worker claimed two payments, then was killed
        for n in ("1", "2"):
            inv_id = s.execute(select(Invoice.id).where(Invoice.external_id == n)).scalar_one()
            s.add(PaymentWriteback(invoice_id=inv_id, amount=Decimal("10"), currency="EUR",
                                   paid_on=TODAY, reference=f"cs_{n}", status="recording",
                                   attempts=1))
    with session(ws.engine) as s:
        s.execute(update(PaymentWriteback).where(PaymentWriteback.reference == "cs_2").values(
            next_attempt_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)))
    assert later(ws, 15) == (0, 1)  # cs_1's lease lapsed: failed for a person, not re-sent
    assert memory_plugins.PAYMENTS == []
    monkeypatch.setattr(MemoryConnector, "idempotent_payments", True)
    assert later(ws, 45) == (1, 0)  # cs_2: the same key again is safe with this connector
    [again] = memory_plugins.PAYMENTS
    assert again.reference == "cs_2" and again.idempotency_key.endswith(f":pay:{rows(ws)[1].id}")


def test_a_payment_in_another_currency_holds_but_records_nothing(ws):
    assert pay(ws, "90.00", currency="GBP") == 1
    assert rows(ws) == [] and memory_plugins.PAYMENTS == []
    with session(ws.engine) as s:
        [msg] = s.execute(select(Event.message).where(Event.kind == "payment_writeback")).all()
    assert "record the payment in ledger by hand" in msg[0]
