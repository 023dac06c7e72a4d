"""`relance explain INVOICE`: why an invoice was or was not reminded on a day, and what
happens next — read from the store with the planner's own rules, nothing changed.

One invoice at a time, so plain queries: the invoice, its customer and account, its
scenario's steps as dates, its dispatches and its recent history.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select

from hub.clock import utcnow
from hub.errors import PermanentError
from hub.money import quantize
from hub.plan.cases import STOP_REASON, covering, stops
from hub.plan.planner import scenario_of
from hub.plan.scenarios import debtor_calendar, step_date, steps_of
from hub.store.db import session
from hub.store.models import Connection, Customer, Dispatch, DispatchInvoice, Event, Invoice
from hub.workspace import Workspace


def explain(ws: Workspace, ref: str, on: dt.date) -> dict[str, Any]:
    with session(ws.engine) as s:
        # two indexed lookups (an OR of both would read the whole table)
        inv = s.execute(select(Invoice).where(Invoice.number == ref).order_by(Invoice.id)
                        ).scalars().first() or s.execute(select(Invoice).where(
                            Invoice.external_id == ref).order_by(Invoice.id)).scalars().first()
        if inv is None:
            raise PermanentError(f"no invoice numbered {ref!r} in the store (see `relance "
                                 "invoices`; a new one appears after `relance sync`)")
        cust = s.get(Customer, inv.customer_id)
        conn = s.get(Connection, inv.connection_id)
        account = _account(s, inv, on)
        dispatches = s.execute(select(Dispatch).join(
            DispatchInvoice, DispatchInvoice.dispatch_id == Dispatch.id).where(
            DispatchInvoice.invoice_id == inv.id).order_by(Dispatch.id)).scalars().all()
        events = s.execute(select(Event).where(Event.invoice_id == inv.id).order_by(
            Event.id.desc()).limit(10)).scalars().all()
        cases = covering(s, [inv], on).get(inv.id, [])
        # the scenario the rules give the customer today (the last plan's may be stale)
        scenario = scenario_of(s, ws, cust.id, on) if cust else None
    blockers = _blockers(ws, inv, cust, conn, account, on)
    sc = ws.config.scenarios.get(scenario) if scenario else None
    blockers += [f"case state: {words} (`relance case list`)" for kind, words, partial in cases
                 if stops(kind, sc.stop_when if sc else list(STOP_REASON.values()), partial,
                          bool(sc and sc.remind_undisputed))]
    steps, next_step = _steps(ws, inv, cust, scenario, dispatches, on) if scenario else ([], None)
    if scenario is None:
        blockers.append("no `assign` rule gives this customer a scenario")
    return {
        "invoice": {"number": inv.number, "customer": cust.name if cust else None,
                    "status": inv.status, "kind": inv.kind, "currency": inv.currency,
                    "amount_due": quantize(inv.amount_due, inv.currency),
                    "due_date": inv.due_date, "days_overdue": (on - inv.due_date).days,
                    "connection": conn.name if conn else None},
        "on": on, "account": account, "scenario": scenario,
        "reminded": not blockers and next_step is not None and next_step["date"] <= on,
        "blockers": blockers, "steps": steps, "next": next_step,
        "dispatches": [{"id": d.id, "step": d.step, "channel": d.channel, "status": d.status,
                        "planned_on": d.planned_on, "sent_at": d.sent_at,
                        "hold_reason": d.hold_reason} for d in dispatches],
        "history": [{"at": e.at, "kind": e.kind, "message": e.message} for e in reversed(events)],
    }


def _account(s, inv: Invoice, on: dt.date) -> dict[str, Any]:
    rows = dict(s.execute(select(Invoice.kind, func.sum(Invoice.amount_due)).where(
        Invoice.customer_id == inv.customer_id, Invoice.currency == inv.currency,
        Invoice.status == "open", Invoice.hub_paid_at.is_(None), Invoice.amount_due > 0,
        or_(Invoice.kind == "credit_note", Invoice.due_date < on)).group_by(Invoice.kind)).all())
    overdue, credit = rows.get("invoice") or Decimal(0), rows.get("credit_note") or Decimal(0)
    return {"currency": inv.currency, "overdue": quantize(overdue, inv.currency),
            "credits": quantize(credit, inv.currency),
            "net": quantize(overdue - credit, inv.currency)}


def _blockers(ws: Workspace, inv: Invoice, cust: Customer | None, conn: Connection | None,
              account: dict[str, Any], on: dt.date) -> list[str]:
    """Every reason the planner or the send stage would not remind it (in their words)."""
    out = []
    if inv.status != "open":
        out.append(f"the ledger says {inv.status}")
    if inv.kind != "invoice":
        out.append("a credit note: it lowers the account, it is never reminded")
    if inv.amount_due <= 0:
        out.append("nothing is owed on it")
    if inv.hub_paid_at:
        out.append(f"paid through {inv.hub_paid_ref} on {inv.hub_paid_at:%Y-%m-%d}: held as "
                   "paid until the ledger records it")
    if inv.disputed:
        out.append("disputed")
    if inv.promised_until and inv.promised_until >= on:
        out.append(f"promised to be paid by {inv.promised_until}")
    if inv.on_payment_plan:
        out.append("on a payment plan")
    if inv.in_collection:
        out.append("handed to collection")
    if cust and cust.on_hold:
        out.append("the customer is on hold")
    minimum = ws.config.dispatch.min_amount.get(inv.currency, Decimal(0))
    if inv.kind == "invoice" and account["net"] <= minimum and account["credits"] > 0:
        out.append(f"the account's credits ({account['credits']} {inv.currency}) leave "
                   f"{account['net']} {inv.currency} overdue: nothing to remind")
    elif inv.kind == "invoice" and minimum and account["net"] <= minimum:
        out.append(f"the account's {account['net']} {inv.currency} overdue is below the "
                   f"minimum of {minimum}")
    if conn is not None and conn.name in ws.config.connections:
        limit = dt.timedelta(seconds=ws.config.connections[conn.name].max_staleness)
        if conn.state in ("error", "needs_reauth"):
            out.append(f"connection {conn.name} could not be read ({conn.state}): its sends "
                       "are held")
        elif conn.last_sync_ok_at is None or utcnow() - conn.last_sync_ok_at > limit:
            out.append(f"connection {conn.name}'s data is older than max_staleness: its sends "
                       "are held until a sync succeeds")
    return out


def _steps(ws: Workspace, inv: Invoice, cust: Customer | None, name: str,
           dispatches: list[Dispatch], on: dt.date) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    sc = ws.config.scenarios.get(name)
    if sc is None:
        return [], None
    # the debtor's calendar: their country's holidays, the scenario's blackouts and shift
    cal = debtor_calendar(ws.config.company, sc, cust.country if cust else None,
                          cust.region if cust else None)
    done = {d.step: d for d in dispatches if d.scenario == name}
    out, following = [], None
    from hub.plan.standing import standing
    from hub.store.db import session

    with session(ws.engine) as s:
        last_on = standing(s, inv.id, name).planned_on
    steps = steps_of(sc)
    # escalation: latest — the latest step already due goes, the ones before it are skipped
    latest = max((st.index for st in steps if st.key not in done and
                  step_date(inv.due_date, st.offset, cal, sc.closed_days) <= on),
                 default=None) if sc.escalation == "latest" else None
    for st in steps:
        when = step_date(inv.due_date, st.offset, cal, sc.closed_days)
        d = done.get(st.key)
        row = {"step": st.key, "channel": st.config.channel, "template": st.config.template,
               "due": when, "condition": st.config.when}
        if d is not None:
            row["state"] = f"{d.status} (dispatch {d.id}, planned {d.planned_on})"
        elif st.offset.days < 0 and inv.due_date < on and sc.escalation == "earned":
            row["state"] = "skipped: a note for before the due date"
        elif latest is not None and st.index < latest:
            row["state"] = "skipped: a later step is already due (escalation: latest)"
        elif following is None:
            earliest = max(when, last_on + dt.timedelta(days=sc.min_gap)) \
                if last_on and sc.escalation == "earned" else when
            row["state"] = "next" + (f": due on {earliest}" if earliest > on else ": due now")
            following = {**row, "date": earliest}
        else:
            row["state"] = "later: each step follows the one before"
        out.append(row)
    return out, following
