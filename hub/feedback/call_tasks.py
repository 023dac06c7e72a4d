"""Call-task outcomes, recorded by a person, turned into facts the planner obeys."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.clock import utcnow
from hub.errors import PermanentError
from hub.store.events import record_event
from hub.store.models import DispatchInvoice, Invoice, Task

OUTCOMES = ("promised", "disputed", "no_answer", "paid")


def list_tasks(s: Session, status: str | None = "open") -> list[Task]:
    q = select(Task).order_by(Task.id)
    if status:
        q = q.where(Task.status == status)
    return list(s.execute(q).scalars())


def complete_task(s: Session, task_id: int, outcome: str, *, until: dt.date | None = None,
                  reason: str | None = None, now: dt.datetime | None = None) -> Task:
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
    values = {"promised": {"promised_until": until}, "disputed": {"disputed": True},
              # held as paid until the ledger records it (a sync must not reopen it)
              "paid": {"hub_paid_at": now, "hub_paid_ref": f"call task {task_id}"},
              "no_answer": {}}[outcome]
    if values and open_ids:
        s.execute(update(Invoice).where(Invoice.id.in_(open_ids)).values(**values))
    task.status, task.outcome, task.done_at = "done", outcome, now
    task.outcome_until, task.outcome_reason = until, reason
    s.add(task)
    record_event(s, "task_outcome", f"call task {task_id}: {outcome}"
                 + (f" until {until}" if until else "") + (f" ({reason})" if reason else ""),
                 customer_id=task.customer_id, dispatch_id=task.dispatch_id,
                 data={"invoices": open_ids, "outcome": outcome,
                       "until": until.isoformat() if until else None, "reason": reason})
    return task
