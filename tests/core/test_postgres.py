"""The same planner SQL on PostgreSQL: set-based, idempotent, invariant-keeping."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from hub.db import session
from hub.models import Dispatch, DispatchInvoice
from hub.planner import plan
from hub.sync import sync_all
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
