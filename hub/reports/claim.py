"""`relance claim`: the late-payment interest and fixed compensation one invoice may bear
under the company's law pack, with the law and every rate period named."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import or_, select

from hub.errors import PermanentError
from hub.law import Claim, claim, company_pack, load
from hub.store.db import session
from hub.store.models import Customer, Invoice
from hub.workspace import Workspace


def invoice_claim(ws: Workspace, number: str, on: dt.date, *, pack: str | None = None,
                  own_rate: Decimal | None = None) -> Claim:
    with session(ws.engine) as s:
        inv = s.execute(select(Invoice).where(or_(Invoice.number == number,
                                                  Invoice.external_id == number))
                        ).scalars().first()
        if inv is None:
            raise PermanentError(f"no invoice {number!r} (see `relance invoices`)")
        cust = s.get(Customer, inv.customer_id)
    if inv.kind != "invoice" or inv.status != "open" or inv.amount_due <= 0:
        raise PermanentError(f"invoice {inv.number} is {inv.status} with {inv.amount_due:f} "
                             f"{inv.currency} due: nothing to claim")
    return claim(pack or company_pack(ws.config.company), principal=inv.amount_due,
                 currency=inv.currency, due=inv.due_date, on=on,
                 rates=load(ws.root), customer_type=cust.customer_type if cust else "business",
                 own_rate=own_rate if own_rate is not None else inv.late_interest_rate)
