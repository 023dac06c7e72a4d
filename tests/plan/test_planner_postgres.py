"""The same planner SQL on PostgreSQL: set-based, idempotent, invariant-keeping."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from hub.plan.planner import plan
from hub.store.db import session
from hub.store.models import Dispatch, DispatchInvoice
from hub.sync.engine import sync_all
from tests import memory_plugins
from tests.conftest import BASE_CONFIG, TODAY, customer, invoice

pytestmark = pytest.mark.postgres


def test_plan_on_postgresql(make_ws, pg_url):
    cfg = BASE_CONFIG.replace("  standard:\n", "  standard:\n    consolidate: per_customer\n")
    ws = make_ws(cfg, database_url=pg_url)
    memory_plugins.LEDGERS["default"] += [
        customer("C1"), customer("C2"),
        invoice("1", "C1", TODAY - dt.timedelta(days=3), amount="10.50"),
        invoice("2", "C1", TODAY - dt.timedelta(days=4), amount="20.25"),
        invoice("3", "C2", TODAY - dt.timedelta(days=40), status="paid"),
        invoice("4", "C2", TODAY - dt.timedelta(days=20)),
    ]
    assert all(r.ok for r in asyncio.run(sync_all(ws)))
    first = plan(ws, today=TODAY)
    assert first.created == 2 and first.linked == 3
    assert plan(ws, today=TODAY).created == 0
    with session(ws.engine) as s:
        amounts = sorted(str(a) for a in s.execute(select(Dispatch.amount)).scalars())
        assert amounts == ["100.0000", "30.7500"]
        assert s.execute(select(func.count()).select_from(DispatchInvoice)).scalar() == 3
    # ids keep coming from the sequence after the planner's explicit ids
    with session(ws.engine) as s:
        s.add(Dispatch(idempotency_key="x", customer_id=1, scenario="s", step="x", step_index=0,
                       channel="email", template="t", planned_on=TODAY))
        s.flush()


def test_store_upserts_on_postgresql(make_ws, pg_url):
    """The bulk SQL on PostgreSQL: placeholders, customer lookups, updates, payments."""
    from decimal import Decimal

    from hub.contracts import PaymentRecord
    from hub.store.models import Customer, Invoice, Payment

    ws = make_ws(database_url=pg_url)
    ledger = memory_plugins.LEDGERS["default"]
    ledger += [invoice("1", "C9", TODAY, amount="12.3456"),  # customer described later
               customer("C1"), invoice("2", "C1", TODAY, amount="5.00", disputed=True)]
    assert all(r.ok for r in asyncio.run(sync_all(ws)))
    ledger[:] = [customer("C9", name="Nine"), invoice("1", "C9", TODAY, amount="2.50"),
                 invoice("2", "C1", TODAY, amount="5.00", disputed=False),
                 invoice("3", "C1", TODAY, amount="0.00", status="paid", issue_date=TODAY),
                 PaymentRecord(external_id="P1", invoice_external_id="1",
                               customer_external_id="C9", amount=Decimal("9.8456"),
                               currency="EUR", date=TODAY)]
    assert all(r.ok for r in asyncio.run(sync_all(ws, full=True)))
    with session(ws.engine) as s:
        custs = {c.external_id: c for c in s.execute(select(Customer)).scalars()}
        invs = {i.external_id: i for i in s.execute(select(Invoice)).scalars()}
        pay = s.execute(select(Payment)).scalar_one()
    assert custs["C9"].name == "Nine" and not custs["C9"].placeholder
    assert invs["1"].customer_id == custs["C9"].id and invs["2"].customer_id == custs["C1"].id
    assert invs["1"].amount_due == Decimal("2.50") and invs["1"].total == Decimal("2.50")
    assert invs["2"].disputed  # a dispute stays until a person clears it
    assert invs["3"].paid_at is not None and invs["2"].paid_at is None
    assert invs["3"].issue_date == TODAY and invs["2"].issue_date is None
    assert pay.amount == Decimal("9.8456") and pay.invoice_external_id == "1"
