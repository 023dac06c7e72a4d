"""Where an invoice stands in a scenario, read from what was planned for it.

The level (the highest step position linked), the day the last step was planned (the
`min_gap` runs from it) and a step to send at once (a broken promise: `plan_resume`).
The links are the truth and the only thing a day's plan writes per invoice: keeping a
copy in a table in invoice order (the `dunning` table until migration 0012) cost a
scattered write per invoice planned — a page each, most pages of the table every day —
and had to be kept in line by every code path that releases or moves a step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from hub.store.models import Dispatch, DispatchInvoice, PlanResume
from hub.store.records import dialect_insert


def level_of(invoice_id, scenario):
    """SQL: the highest step position planned for the invoice in the scenario, else -1."""
    di = DispatchInvoice.__table__.c
    return func.coalesce(select(func.max(di.step_index)).where(
        di.invoice_id == invoice_id, di.scenario == scenario).correlate_except(
        DispatchInvoice.__table__).scalar_subquery(), -1)


def last_planned_on(invoice_id, scenario):
    """SQL: the day its latest dispatch in the scenario was planned (NULL: none)."""
    di, d = DispatchInvoice.__table__.c, Dispatch.__table__.c
    latest = select(func.max(di.dispatch_id)).where(  # (correlated with the outer query,
        di.invoice_id == invoice_id, di.scenario == scenario).correlate_except(  # two up)
        DispatchInvoice.__table__).scalar_subquery()
    return select(d.planned_on).where(d.id == latest).correlate_except(
        Dispatch.__table__).scalar_subquery()


def resume_step(invoice_id, scenario):
    """SQL: the position of a step to send at once in the scenario (NULL: none)."""
    r = PlanResume.__table__.c
    return select(r.step_index).where(r.invoice_id == invoice_id, r.scenario == scenario
                                      ).correlate_except(PlanResume.__table__).scalar_subquery()


@dataclass(frozen=True)
class Standing:
    level: int = -1  # the last step planned (one below a step to resume at)
    planned_on: dt.date | None = None  # None: no gap to wait (nothing planned, or resuming)
    resume_at: int | None = None


def fold_resumes(s: Session, table) -> None:
    """Over a table of standings (invoice_id, scenario, level, planned_on, resume_at): a
    step to resume at makes the step below it the level, and no gap is waited. Set-based
    for the day's read; `standing` reads one invoice the same way."""
    t = table.c
    found = s.execute(table.update().where(t.invoice_id.in_(select(
        PlanResume.__table__.c.invoice_id))).values(resume_at=resume_step(t.invoice_id, t.scenario)))
    if found.rowcount:  # (mostly none: no pass over the day's read)
        s.execute(table.update().where(t.resume_at.is_not(None)).values(
            level=case((t.level > t.resume_at - 1, t.level), else_=t.resume_at - 1),
            planned_on=None))


def standing(s: Session, invoice_id: int, scenario: str) -> Standing:
    level, planned_on, resume = s.execute(select(
        level_of(literal(invoice_id), scenario), last_planned_on(literal(invoice_id), scenario),
        resume_step(literal(invoice_id), scenario))).one()
    if resume is not None:  # as `fold_resumes`
        return Standing(max(level, resume - 1), None, resume)
    return Standing(level, planned_on, None)


def resume_at(s: Session, invoice_id: int, scenario: str, step: str, step_index: int) -> None:
    """The invoice's next plan sends this step whatever its date and the gap."""
    values = {"scenario": scenario, "step": step, "step_index": step_index}
    s.execute(dialect_insert(s, PlanResume.__table__).values(invoice_id=invoice_id, **values)
              .on_conflict_do_update(index_elements=["invoice_id"], set_=values))


def resumed(s: Session, invoice_ids) -> None:
    """These invoices were planned: their steps to resume at are done."""
    r = PlanResume.__table__
    if s.execute(select(r.c.invoice_id).limit(1)).first() is not None:  # (mostly none)
        s.execute(r.delete().where(r.c.invoice_id.in_(invoice_ids)))
