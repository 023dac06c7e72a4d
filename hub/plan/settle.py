"""Promises and payment plans judged by what was paid, each day before planning.

A promise is judged the day after its date: kept when the balance it covered fell by the
promised amount (the whole balance when none was given), else broken. A payment plan is
broken as soon as what was paid falls short of the instalments already due, and kept when
every instalment is paid. A broken one resumes the scenario at once — at
`on_broken_promise` when the scenario names it, never below a step already sent — and
the next message knows (`broken_promise` in its context). Instalment reminders go a few
days before each date (`cases.instalment_reminder`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub.clock import utcnow
from hub.config import RelanceConfig
from hub.money import quantize
from hub.plan.cases import balance, close_case, instalments, owed_invoices, paid_since_opened
from hub.store.events import record_event
from hub.store.models import CaseState, Dispatch, DispatchInvoice
from hub.store.records import dialect_insert

JUDGE = "relance"  # the actor of what the hub decides by itself


def settle_cases(s: Session, cfg: RelanceConfig, today: dt.date) -> int:
    """Judge the open promises whose date has passed and the payment plans with an
    instalment due; returns how many were closed."""
    closed = 0
    due = or_(and_(CaseState.kind == "promise", CaseState.until < today),
              CaseState.kind == "payment_plan")  # only those with a date passed are judged
    for state in s.execute(select(CaseState).where(CaseState.closed_at.is_(None), due)
                           ).scalars().all():
        if "balance" not in state.data or (state.kind == "payment_plan"
                                           and not state.data.get("instalments")):
            continue  # opened before 0.7 kept what it covered: lapses by its date, unjudged
        start, now = Decimal(state.data["balance"]), balance(s, state)
        paid = paid_since_opened(s, state)
        cur = state.data.get("currency", "")
        verdict = None
        if state.kind == "promise" and state.until and state.until < today:
            target = state.amount if state.amount is not None else start
            verdict = ("kept", f"{quantize(paid, cur)} {cur} paid of the {quantize(target, cur)} "
                       f"{cur} promised by {state.until}") if paid >= target or now == 0 else (
                "broken", f"by {state.until}, {quantize(paid, cur)} {cur} paid of the "
                f"{quantize(target, cur)} {cur} promised")
        elif state.kind == "payment_plan":
            plan = instalments(state)
            due_so_far = sum((a for d, a in plan if d < today), Decimal(0))
            if now == 0 or paid >= sum((a for _, a in plan), Decimal(0)):
                verdict = ("kept", "every instalment paid")
            elif paid < due_so_far:
                missed = next(d for d, _ in plan if sum(
                    (a for d2, a in plan if d2 <= d), Decimal(0)) > paid)
                verdict = ("broken", f"instalment due {missed} missed: {quantize(paid, cur)} "
                           f"{cur} paid of the {quantize(due_so_far, cur)} {cur} due so far")
        if verdict:
            close_case(s, state.id, outcome=verdict[0], reason=verdict[1], by=JUDGE, config=cfg)
            closed += 1
    return closed


def plan_instalment_reminders(s: Session, cfg: RelanceConfig, today: dt.date,
                              installation: str) -> list[int]:
    """One reminder per instalment, `before` days ahead of its date (at most once: the key
    names the plan and the date)."""
    rule = cfg.cases.instalment_reminder
    if rule is None:
        return []
    made, now = [], utcnow()
    held = "every dispatch is approved by a person" if cfg.dispatch.require_approval else None
    for state in s.execute(select(CaseState).where(
            CaseState.closed_at.is_(None), CaseState.kind == "payment_plan")).scalars().all():
        invoices = owed_invoices(s, state)
        if not invoices or "balance" not in state.data:
            continue
        paid = paid_since_opened(s, state)
        owed_so_far = Decimal(0)
        for day, amount in instalments(state):
            owed_so_far += amount
            if not (today <= day <= today + dt.timedelta(days=rule.before)):
                continue
            if paid >= owed_so_far:  # paid ahead: no reminder for it
                continue
            step = f"instalment-{day.isoformat()}"
            key = f"rl-{installation}:payment_plan:{step}:case{state.id}"
            res = s.execute(dialect_insert(s, Dispatch.__table__).values(
                idempotency_key=key, customer_id=invoices[0].customer_id,
                scenario="payment_plan", step=step, step_index=0, channel=rule.channel,
                template=rule.template,
                status="planned" if held else "approved", approval_reason=held, planned_on=today,
                currency=invoices[0].currency, amount=amount, invoice_count=len(invoices),
                attempts=0, created_at=now, updated_at=now,
            ).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(
                Dispatch.__table__.c.id)).first()
            if res is None:  # planned before (RETURNING: psycopg's row count says -1 here)
                continue
            did = res[0]
            s.execute(dialect_insert(s, DispatchInvoice.__table__).values([
                {"dispatch_id": did, "invoice_id": i.id, "scenario": "payment_plan",
                 "step": step, "step_index": 0} for i in invoices]).on_conflict_do_nothing())
            record_event(s, "planned", f"planned the reminder of the {amount} {invoices[0].currency} "
                         f"instalment due {day} (payment plan {state.id}) via {rule.channel}",
                         dispatch_id=did, customer_id=invoices[0].customer_id)
            made.append(did)
    return made
