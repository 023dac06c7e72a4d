"""The outbox is the one writer of a dispatch's status, and every move is a compare-and-set:
a webhook and a dispatcher racing on one dispatch cannot both win."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest
from sqlalchemy import event, select

from hub.contracts import DeliveryUpdate
from hub.feedback.apply import apply_delivery
from hub.plan.planner import plan
from hub.send import outbox
from hub.send.outbox import Status
from hub.store.db import session
from hub.store.models import Dispatch
from hub.sync.engine import sync_all
from tests import memory_plugins
from tests.conftest import TODAY, customer, invoice


def uncertain_dispatch(ws) -> int:
    memory_plugins.LEDGERS["default"] += [customer("C1"),
                                          invoice("1", "C1", TODAY - dt.timedelta(days=3))]
    asyncio.run(sync_all(ws))
    [did] = plan(ws, today=TODAY).dispatch_ids
    with session(ws.engine) as s:
        s.execute(Dispatch.__table__.update().values(status="uncertain", provider_ref="ref-1"))
    return did


@pytest.fixture(params=["sqlite", "postgresql"])
def ws(request, make_ws):
    if request.param == "sqlite":
        return make_ws()
    return make_ws(database_url=request.getfixturevalue("pg_url"))


def test_a_webhook_and_a_resolver_racing_on_one_dispatch_cannot_both_win(ws):
    did = uncertain_dispatch(ws)
    resolver: dict[str, object] = {}

    def resolve_meanwhile() -> None:  # what `resolve_uncertain` does on an idempotent channel
        with session(ws.engine, immediate=True) as s:
            resolver["won"] = outbox.transition(s, did, Status.UNCERTAIN, Status.APPROVED,
                                                not_before=None)

    competitor = threading.Thread(target=resolve_meanwhile)
    fired = threading.Event()

    # The resolver runs at the worst moment: after the webhook read the dispatch, before
    # it writes. (With a write lock held, the resolver waits for it; we go on after 0.5 s.)
    def before_write(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE DISPATCH") and not fired.is_set() \
                and threading.current_thread() is threading.main_thread():
            fired.set()
            competitor.start()
            competitor.join(0.5)

    event.listen(ws.engine, "before_cursor_execute", before_write)
    try:
        apply_delivery(ws, DeliveryUpdate(provider_ref="ref-1", status="delivered"))
    finally:
        event.remove(ws.engine, "before_cursor_execute", before_write)
        competitor.join(10)
    with session(ws.engine) as s:
        final = s.execute(select(Dispatch.status).where(Dispatch.id == did)).scalar_one()
    assert fired.is_set() and "won" in resolver
    webhook_won = final == Status.SENT
    assert webhook_won != resolver["won"], (final, resolver)
    assert final == (Status.APPROVED if resolver["won"] else Status.SENT)


def test_the_outbox_refuses_a_move_it_never_makes(make_ws):
    ws = make_ws()
    did = uncertain_dispatch(ws)
    with session(ws.engine) as s, pytest.raises(ValueError, match="never moves"):
        outbox.transition(s, did, Status.SENT, Status.APPROVED)


def test_only_the_outbox_writes_dispatch_status():
    """Every `status=` write to the dispatch table lives in hub/send/outbox.py (the planner
    creates rows; creation is not a transition)."""
    import re
    from pathlib import Path

    hub = Path(__file__).resolve().parents[2] / "hub"
    writers = []
    for path in hub.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"update\(Dispatch\)[^\n]*\n?[^\n]*\.values\([^)]*\bstatus\s*=", text) or \
                re.search(r"UPDATE dispatch SET status", text):
            writers.append(path.relative_to(hub).as_posix())
    assert writers == ["send/outbox.py"], writers
