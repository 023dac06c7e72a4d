"""The customer's account, not the invoice: credits net what is asked.

Per customer and currency, what today's plan would ask is its candidates' amount less the
open credits (credit notes, payments on account the ledger lists as credit). A customer
whose credits cover it, or whose net is below `dispatch.min_amount` for the currency, is
not reminded: their candidates leave the plan and the history says why, once per
customer and day. Set-based, like the planner: one grouped read, one delete.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.orm import Session

from hub.clock import utcnow
from hub.money import quantize
from hub.store.models import Event, Invoice
from hub.store.money import Money

_tmp = MetaData()
ACCOUNT = Table(  # the accounts with open credits: a small set (none at all in many books)
    "plan_account", _tmp,
    Column("customer_id", Integer, primary_key=True),
    Column("currency", String, primary_key=True),
    Column("credit", Money()),
    prefixes=["TEMPORARY"],
)


def build_accounts(s: Session, today: dt.date, min_amount: dict[str, Decimal]) -> None:
    """Each customer's open credits per currency, read through the partial index of open
    credit notes (not a pass over the invoices)."""
    ACCOUNT.create(s.connection(), checkfirst=True)
    s.execute(ACCOUNT.delete())
    inv = Invoice.__table__.c
    rows = select(inv.customer_id, inv.currency, func.sum(inv.amount_due)).where(
        text("invoice.kind = 'credit_note'"),  # a literal: it selects the partial index
        inv.status == "open", inv.hub_paid_at.is_(None),
        inv.amount_due > 0).group_by(inv.customer_id, inv.currency)
    s.execute(insert(ACCOUNT).from_select(["customer_id", "currency", "credit"], rows))


def drop_covered(s: Session, candidate: Table, min_amount: dict[str, Decimal],
                 today: dt.date, audit: bool = True) -> set[int]:
    """Remove the candidates of accounts with nothing (or too little) left to remind, and
    say why once per account. Returns the customers some candidates left."""
    a, c = ACCOUNT.c, candidate.c
    # what would be asked of each account today: the candidates, less the open credits
    # (every account when a minimum is set; else only those with a credit)
    due = (select(c.customer_id, c.currency, func.sum(c.amount_due).label("due"))
           .group_by(c.customer_id, c.currency).subquery("asked"))
    credit = func.coalesce(a.credit, literal(Decimal(0), Money()))
    on = and_(due.c.customer_id == a.customer_id, due.c.currency == a.currency)
    source = due.outerjoin(ACCOUNT, on) if min_amount else due.join(ACCOUNT, on)
    currency = due.c.currency
    floor = case(*[(currency == cur, literal(amount, Money())) for cur, amount in
                   min_amount.items()], else_=literal(Decimal(0), Money())) if min_amount \
        else literal(Decimal(0), Money())
    hits = s.execute(select(due.c.customer_id, currency, due.c.due, credit).select_from(source)
                     .where(due.c.due - credit <= floor)).all()
    if not hits:
        return set()
    if audit:
        _say_why(s, hits, min_amount, today)
    s.execute(delete(candidate).where(c.customer_id == bindparam("cid"),
                                      c.currency == bindparam("cur")),
              [{"cid": cid, "cur": cur} for cid, cur, *_ in hits])
    return {cid for cid, *_ in hits}


def _say_why(s: Session, hits, min_amount: dict[str, Decimal], today: dt.date) -> None:
    """One event per account left out, with the amounts that decided it."""
    at = utcnow()
    hits = [(cid, cur, quantize(overdue, cur), quantize(credit, cur))
            for cid, cur, overdue, credit in hits]
    s.execute(insert(Event.__table__), [{
        "at": at, "kind": "suppressed", "level": "info", "customer_id": cid,
        "message": (f"not reminded: credits of {credit} {cur} cover the {overdue} {cur} due"
                    if credit >= overdue else
                    f"not reminded: {overdue - credit} {cur} due after {credit} {cur} of "
                    f"credits, below the minimum of {min_amount.get(cur)} {cur}") if credit else
                   f"not reminded: {overdue} {cur} due, below the minimum of "
                   f"{min_amount.get(cur)} {cur}",
        "data": {"reason": "credits" if credit else "min_amount", "on": today.isoformat(),
                 "overdue": str(overdue), "credit": str(credit), "currency": cur}}
        for cid, cur, overdue, credit in hits])
