"""What a channel receives: amounts as a person writes them."""

from __future__ import annotations

import datetime as dt

from tests import memory_plugins
from tests.conftest import customer, invoice
from tests.send.test_dispatcher import send, setup


def test_amounts_reach_the_channel_with_the_currencys_decimals(make_ws):
    ws = make_ws()
    due = dt.date.today() - dt.timedelta(days=3)
    setup(ws, customer("C1"), invoice("1", "C1", due, amount="377.59"),
          invoice("2", "C1", due, amount="1200", currency="JPY"))
    send(ws)
    lines = {line.number: line for m in memory_plugins.SENT["email"] for line in m.invoices}
    assert str(lines["INV-1"].amount_due) == "377.59"  # not 377.5900 from the store
    assert str(lines["INV-2"].amount_due) == "1200" and str(lines["INV-2"].total) == "1200"


def test_a_retry_waits_what_the_providers_retry_after_says(make_ws):
    from sqlalchemy import select

    from hub.store.db import session
    from hub.store.models import Dispatch

    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", dt.date.today() - dt.timedelta(days=3)))
    memory_plugins.FAIL["email"] += ["retry_after:1"]
    before = dt.datetime.now(dt.UTC)
    assert send(ws).retried == 1
    with session(ws.engine) as s:
        d = s.execute(select(Dispatch)).scalar_one()
    wait = (d.not_before - before).total_seconds()
    assert 0.5 < wait < 10, wait  # Retry-After: 1, not the 60 s backoff


def test_a_connection_gives_its_customers_without_a_language_its_default(make_ws):
    from tests.conftest import BASE_CONFIG

    ws = make_ws(BASE_CONFIG.replace("    plugin: memory\n",
                                     "    plugin: memory\n    default_language: fr\n"))
    for own in (ws.root / "templates" / "en").glob("*.j2"):  # the shipped wording
        own.unlink()
    due = dt.date.today() - dt.timedelta(days=3)
    setup(ws, customer("C1"), invoice("1", "C1", due),
          customer("C2", language="en"), invoice("2", "C2", due))
    send(ws)
    by_name = {m.recipient.name: m for m in memory_plugins.SENT["email"]}
    assert by_name["Customer C1"].text.startswith("Madame, Monsieur")
    assert by_name["Customer C2"].text.startswith("Dear Customer C2")
