"""The demo's account scenes, set on its first run the way a credit controller would: a
hold, a dispute, a promise that will be kept and one that will not, a payment plan whose
first instalment is already missed. The sample export itself holds a credit note that
covers one customer and one that covers a third of another's balance."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from hub.plan.cases import open_case
from hub.store.db import session
from hub.store.models import Customer, Invoice
from hub.workspace import Workspace

WHO = "demo (Marie, credit control)"


def _customer(s, external_id: str) -> Customer:
    return s.execute(select(Customer).where(Customer.external_id == external_id)).scalar_one()


def _overdue(s, cust: Customer, today: dt.date) -> list[Invoice]:
    return list(s.execute(select(Invoice).where(
        Invoice.customer_id == cust.id, Invoice.status == "open", Invoice.kind == "invoice",
        Invoice.due_date < today).order_by(Invoice.due_date)).scalars())


def stage(ws: Workspace, export: Path, today: dt.date) -> tuple[list[str], str | None]:
    """Open the scenes' case states; returns what was done (one line each) and the invoice
    whose reminder a dispute stops (the demo explains it). Marks the kept promise's invoices
    paid in the export: the next sync reads the payment."""
    lines, disputed, paid = [], None, []
    yesterday = today - dt.timedelta(days=1)
    with session(ws.engine, immediate=True) as s:
        hold = _customer(s, "CUST-0004")
        open_case(s, "hold", customer=hold.name, until=today + dt.timedelta(days=14),
                  reason="new contact at the customer; wait for their purchase order", by=WHO)
        lines.append(f"hold on {hold.name} until {today + dt.timedelta(days=14)}")
        inv = _overdue(s, _customer(s, "CUST-0008"), today)[0]
        open_case(s, "dispute", invoice=inv.number, reason="goods damaged in transit", by=WHO)
        lines.append(f"dispute on {inv.number}: goods damaged in transit")
        disputed = inv.number
        kept = _customer(s, "CUST-0005")
        open_case(s, "promise", customer=kept.name, until=yesterday, by=WHO,
                  reason="promised on the phone to pay everything")
        paid = [i.number for i in _overdue(s, kept, today)]
        lines.append(f"promise by {kept.name} to pay by {yesterday} (they did)")
        broken = _customer(s, "CUST-0007")
        open_case(s, "promise", customer=broken.name, until=yesterday, by=WHO,
                  reason="promised on the phone to pay everything")
        lines.append(f"promise by {broken.name} to pay by {yesterday} (they did not)")
        planner = _customer(s, "CUST-0010")
        owed = sum((i.amount_due for i in _overdue(s, planner, today)), Decimal(0))
        first = (owed / 3).quantize(Decimal("0.01"))
        open_case(s, "payment_plan", customer=planner.name, by=WHO, instalments=[
            (today - dt.timedelta(days=2), first),
            (today + dt.timedelta(days=28), owed - first)], reason="three-month plan agreed")
        lines.append(f"payment plan for {planner.name}: {first} due {today - dt.timedelta(days=2)}"
                     " (missed), the rest in 28 days")
    mark_paid(export, set(paid))
    return lines, disputed


def outcomes(ws: Workspace, today: dt.date) -> list[str]:
    """What the day's plan decided about the scenes: promises and plans judged, what waits
    for a person."""
    from sqlalchemy import func

    from hub.store.models import CaseState, Dispatch

    out = []
    with session(ws.engine) as s:
        for state, name in s.execute(select(CaseState, Customer.name).join(
                Customer, Customer.id == CaseState.customer_id).where(
                CaseState.closed_by == "relance").order_by(CaseState.id)).all():
            out.append(f"{state.kind.replace('_', ' ')} of {name}: {state.outcome} — "
                       f"{state.data.get('closed_because', '')}"
                       + ("; reminders resumed at once" if state.outcome == "broken" else ""))
        from hub.store.models import Event

        for message, name in s.execute(select(Event.message, Customer.name).join(
                Customer, Customer.id == Event.customer_id).where(
                Event.kind == "suppressed", Event.message.like("%credits%")).limit(3)).all():
            out.append(f"{name}: {message}")
        waiting = s.execute(select(func.count()).select_from(Dispatch).where(
            Dispatch.status == "planned")).scalar_one()
    if waiting:
        out.append(f"{waiting} reminder(s) wait for a person (the approval rules in "
                   "relance.yaml)")
    return out


def mark_paid(export: Path, numbers: set[str]) -> None:
    """The export says these invoices are paid, as the ledger would after a payment."""
    with export.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    number, status, due = (header.index(c) for c in ("invoice_number", "status", "amount_due"))
    for row in rows[1:]:
        if row[number] in numbers:
            row[status], row[due] = "paid", "0"
    with export.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
