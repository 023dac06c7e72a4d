"""A scenario's steps edited between plans: what was sent keeps its meaning (the stored
positions follow the step keys), so no step is sent twice and none is skipped."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from hub.plan.planner import plan
from hub.store.db import session
from hub.store.models import Dispatch, DispatchInvoice, Invoice
from hub.workspace import Workspace
from tests import memory_plugins
from tests.conftest import TODAY, customer, invoice
from tests.plan.test_incremental import HEAD as INCREMENTAL_HEAD
from tests.plan.test_planner import load

D = dt.timedelta
HEAD = INCREMENTAL_HEAD + "    escalation: latest\n    steps:\n"
STEP = {"a": "      - {id: a, at: due+1d, channel: email, template: first_reminder}\n",
        "b": "      - {id: b, at: due+5d, channel: email, template: second_reminder}\n",
        "c": "      - {id: c, at: due+10d, channel: email, template: formal_notice}\n"}


def _with(ws: Workspace, keys: str) -> Workspace:
    ws.engine.dispose()
    (ws.root / "relance.yaml").write_text(HEAD + "".join(STEP[k] for k in keys))
    return Workspace.open(ws.root, plugins=(memory_plugins.Plugin(),))


def _sent(ws: Workspace) -> list[tuple[str, str]]:
    with session(ws.engine) as s:
        return sorted(s.execute(select(Invoice.number, Dispatch.step).join(
            DispatchInvoice, DispatchInvoice.invoice_id == Invoice.id).join(
            Dispatch, Dispatch.id == DispatchInvoice.dispatch_id)).all())


def test_a_step_removed_then_added_back_is_neither_skipped_nor_repeated(make_ws):
    ws = make_ws(HEAD + STEP["a"] + STEP["b"] + STEP["c"])
    load(ws, customer("A"), invoice("1", "A", TODAY - D(days=6)),
         customer("B"), invoice("2", "B", TODAY - D(days=15)),
         customer("C"), invoice("3", "C", TODAY - D(days=12)))
    plan(ws, today=TODAY - D(days=8))  # Monday 16th: invoice 2 (due+7) b, invoice 3 (due+4) a
    ws = _with(ws, "ac")  # b removed: c now stands where b stood
    plan(ws, today=TODAY)  # invoice 1 (due+6) a; invoice 3 (due+12) c, stored where b was
    ws = _with(ws, "abc")  # b back: what stood at one place is b for one, c for another
    plan(ws, today=TODAY + D(days=6))  # Monday 30th: c is due for all three
    plan(ws, today=TODAY + D(days=7))
    assert _sent(ws) == [("INV-1", "a"), ("INV-1", "c"), ("INV-2", "b"), ("INV-2", "c"),
                         ("INV-3", "a"), ("INV-3", "c")]
    with session(ws.engine) as s:  # and no message without its invoice
        assert s.execute(select(Dispatch.id).where(~Dispatch.id.in_(
            select(DispatchInvoice.dispatch_id)))).all() == []
    ws.engine.dispose()
