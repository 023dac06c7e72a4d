"""Call-task outcomes, recorded by a person, turned into facts the planner obeys."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.clock import utcnow
from hub.errors import PermanentError
from hub.plan.cases import actor, open_case
from hub.store.events import record_event
from hub.store.models import DispatchInvoice, Invoice, Task

OUTCOMES = ("promised", "disputed", "no_answer", "paid")


def list_tasks(s: Session, status: str | None = "open") -> list[Task]:
    q = select(Task).order_by(Task.id)
    if status:
        q = q.where(Task.status == status)
    return list(s.execute(q).scalars())


def complete_task(s: Session, task_id: int, outcome: str, *, until: dt.date | None = None,
                  reason: str | None = None, now: dt.datetime | None = None,
                  amount: Decimal | None = None, by: str | None = None) -> Task:
    """Record what the customer said. A promise or a dispute opens a case state on each
    open invoice of the call (judged, cleared and audited like any other); "paid" holds
    the invoices as paid until the ledger says so."""
    task = s.get(Task, task_id)
    if task is None:
        raise PermanentError(f"no task {task_id}: see `relance tasks list`")
    if task.status == "done":
        raise PermanentError(f"task {task_id} is already done ({task.outcome})")
    if outcome not in OUTCOMES:
        raise PermanentError(f"outcome must be one of {', '.join(OUTCOMES)}")
    if outcome == "promised" and not until:
        raise PermanentError("a promise needs its date: --until YYYY-MM-DD")
    if outcome == "disputed" and not reason:
        raise PermanentError("a dispute needs its reason: --reason \"…\"")
    now = now or utcnow()
    ids = list(s.execute(select(DispatchInvoice.invoice_id).where(
        DispatchInvoice.dispatch_id == task.dispatch_id)).scalars())
    open_ids = list(s.execute(select(Invoice.id).where(
        Invoice.id.in_(ids), Invoice.status == "open")).scalars())
    if outcome == "paid" and open_ids:  # held as paid until the ledger records it
        s.execute(update(Invoice).where(Invoice.id.in_(open_ids)).values(
            hub_paid_at=now, hub_paid_ref=f"call task {task_id}"))
    if outcome in ("promised", "disputed"):  # case states: judged, cleared, audited
        numbers = s.execute(select(Invoice.number).where(Invoice.id.in_(open_ids))).scalars()
        for number in numbers:
            open_case(s, "promise" if outcome == "promised" else "dispute", invoice=number,
                      until=until if outcome == "promised" else None, amount=amount,
                      reason=reason or f"said on the call of task {task_id}", by=by)
    task.status, task.outcome, task.done_at = "done", outcome, now
    task.outcome_until, task.outcome_reason = until, reason
    s.add(task)
    record_event(s, "task_outcome", f"call task {task_id}: {outcome} (by {actor(by)})"
                 + (f" until {until}" if until else "") + (f" ({reason})" if reason else ""),
                 customer_id=task.customer_id, dispatch_id=task.dispatch_id,
                 data={"invoices": open_ids, "outcome": outcome,
                       "until": until.isoformat() if until else None, "reason": reason})
    return task
