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
