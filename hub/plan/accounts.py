"""The customer's account, not the invoice: credits net the overdue balance.

Per customer and currency, the net overdue balance is what is overdue on open invoices
less the open credits (credit notes, payments on account the ledger lists as credit).
A customer whose credits cover it, or whose net is below `dispatch.min_amount` for the
currency, is not reminded: their candidates leave the plan and the history says why,
once per customer and day. Set-based, like the planner: one grouped read, one delete.
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
)
from sqlalchemy.orm import Session

from hub.clock import utcnow
from hub.money import quantize
from hub.store.models import Event, Invoice
from hub.store.money import Money

_tmp = MetaData()
ACCOUNT = Table(
    "plan_account", _tmp,
    Column("customer_id", Integer, primary_key=True),
    Column("currency", String, primary_key=True),
    Column("overdue", Money()),
    Column("credit", Money()),
    prefixes=["TEMPORARY"],
)


def build_accounts(s: Session, today: dt.date, min_amount: dict[str, Decimal]) -> None:
    """The accounts that can stop a reminder: those with open credits and, when a minimum
    is set, every account."""
    ACCOUNT.create(s.connection(), checkfirst=True)
    s.execute(ACCOUNT.delete())
    inv = Invoice.__table__.c
    open_ = and_(inv.status == "open", inv.hub_paid_at.is_(None), inv.amount_due > 0)
    rows = select(
        inv.customer_id, inv.currency,
        func.sum(case((and_(inv.kind == "invoice", inv.due_date < today), inv.amount_due),
                      else_=literal(Decimal(0), Money()))),
        func.sum(case((inv.kind == "credit_note", inv.amount_due),
                      else_=literal(Decimal(0), Money()))),
    ).where(open_).group_by(inv.customer_id, inv.currency)
    if not min_amount:  # only customers with a credit: a small set, through the index
        rows = rows.where(inv.customer_id.in_(
            select(inv.customer_id).where(open_, inv.kind == "credit_note")))
    s.execute(insert(ACCOUNT).from_select(["customer_id", "currency", "overdue", "credit"], rows))


def drop_covered(s: Session, candidate: Table, min_amount: dict[str, Decimal],
                 today: dt.date) -> int:
    """Remove the candidates of accounts with nothing (or too little) left to remind, and
    say why once per customer. Returns the accounts left out."""
    a, c = ACCOUNT.c, candidate.c
    floor = case(*[(a.currency == cur, literal(amount, Money())) for cur, amount in
                   min_amount.items()], else_=literal(Decimal(0), Money())) if min_amount \
        else literal(Decimal(0), Money())
    # what would be asked of each account today: the candidates, less the open credits
    due = (select(c.customer_id, c.currency, func.sum(c.amount_due).label("due"))
           .group_by(c.customer_id, c.currency).subquery("asked"))
    short = due.c.due - a.credit <= floor
    hits = s.execute(select(a.customer_id, a.currency, due.c.due, a.credit).join(due, and_(
        due.c.customer_id == a.customer_id, due.c.currency == a.currency)).where(short)).all()
    if not hits:
        return 0
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
    s.execute(delete(candidate).where(c.customer_id == bindparam("cid"),
                                      c.currency == bindparam("cur")),
              [{"cid": cid, "cur": cur} for cid, cur, *_ in hits])
    return len(hits)
