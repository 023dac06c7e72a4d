"""Rows that explain a plan to a person: who gets what, through which channel, and why."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.money import quantize
from hub.plan.planner import PlanReport, plan
from hub.send.templates import renderer_for
from hub.store.models import Customer, Dispatch, DispatchInvoice, Invoice
from hub.workspace import Workspace


@dataclass
class PlanRow:
    dispatch_id: int
    customer: str
    customer_code: str | None
    scenario: str
    step: str
    channel: str
    template: str
    status: str
    invoices: list[str]
    amounts: dict[str, Decimal]
    max_days_overdue: int
    why: str
    extra: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        # with the currency's decimals (EUR 2, JPY 0, KWD 3), as a person would write it
        d["amounts"] = {k: str(quantize(v, k)) for k, v in self.amounts.items()}
        return d


def snapshot(s: Session, ws: Workspace, dispatch_ids: Sequence[int],
             today: dt.date | None = None) -> list[PlanRow]:
    """Display rows for these dispatches (chunked queries, grouped in Python for display)."""
    rows: dict[int, PlanRow] = {}
    asked: dict[int, dict[str, Decimal]] = {}  # what a dispatch asks, when one currency
    ids = list(dispatch_ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        q = (select(Dispatch, Customer, Invoice)
             .join(Customer, Customer.id == Dispatch.customer_id)
             .join(DispatchInvoice, DispatchInvoice.dispatch_id == Dispatch.id)
             .join(Invoice, Invoice.id == DispatchInvoice.invoice_id)
             .where(Dispatch.id.in_(chunk)).order_by(Dispatch.id, Invoice.due_date))
        for d, c, inv in s.execute(q):
            ref = today or d.planned_on
            row = rows.get(d.id)
            if row is None:
                row = rows[d.id] = PlanRow(
                    d.id, c.name, c.code, d.scenario, d.step, d.channel, d.template, d.status,
                    [], defaultdict(Decimal), 0, "", {})
                if d.amount is not None and d.currency != "MIXED":
                    asked[d.id] = {d.currency: d.amount}  # net of the customer's credits
                if d.approval_reason:
                    row.extra["approval"] = d.approval_reason
            row.invoices.append(inv.number)
            row.amounts[inv.currency] += inv.amount_due
            row.max_days_overdue = max(row.max_days_overdue, (ref - inv.due_date).days)
    _channel_facts(s, ws, rows, today)
    for row in rows.values():
        row.amounts = asked.get(row.dispatch_id) or dict(row.amounts)
        days = row.max_days_overdue
        when = f"{days} days overdue" if days > 0 else (
            f"due in {-days} days" if days < 0 else "due today")
        row.why = f"step {row.step} of scenario {row.scenario}: {when}"
    return list(rows.values())


def _channel_facts(s: Session, ws: Workspace, rows: dict[int, PlanRow], today) -> None:
    """Facts a channel wants shown before anything is sent (SMS segments, refusals)."""
    from hub.contracts import Channel

    wanted = {name for name in ws.config.channels
              if ws.plugin_class("channel", name).preview is not Channel.preview}
    todo = [r for r in rows.values() if r.channel in wanted]
    for row in todo[:500]:  # a preview, not a batch job
        try:
            d, msg = rendered_message(s, ws, s.get(Dispatch, row.dispatch_id), today)
            channel = ws.plugin_class("channel", d.channel)(
                ws.settings[("channel", d.channel)], ws._context("channel", d.channel,
                                                                 ws.plugin_class("channel", d.channel)))
            row.extra.update(channel.preview(msg))
            problems = channel.problems(msg)
            if problems:
                row.extra["problems"] = problems
        except Exception as exc:  # a preview must never break the plan
            row.extra["problems"] = [str(exc)]


def rendered_message(s: Session, ws: Workspace, d: Dispatch, today: dt.date | None = None):
    """The message a dispatch would send, rendered from the store as it is now (no payment
    link is created: a preview has none)."""
    c = s.get(Customer, d.customer_id)
    invoices = list(s.execute(select(Invoice).join(
        DispatchInvoice, DispatchInvoice.invoice_id == Invoice.id).where(
        DispatchInvoice.dispatch_id == d.id).order_by(Invoice.due_date)).scalars())
    return d, _render(s, ws, d, c, invoices, today or d.planned_on)


def rendered_messages(s: Session, ws: Workspace, ds: list[Dispatch], today: dt.date,
                      html: bool = False) -> dict[int, tuple[Any, Any]]:
    """A page of dispatches rendered at once (one preload for all their customers): each id
    to (its Message, or the exception that stopped it rendering; its Work: the customer
    and invoices)."""
    from hub.send.compose import Work, preload

    ids = [d.id for d in ds]
    links: dict[int, list[Invoice]] = defaultdict(list)
    for did, inv in s.execute(select(DispatchInvoice.dispatch_id, Invoice).join(
            Invoice, Invoice.id == DispatchInvoice.invoice_id).where(
            DispatchInvoice.dispatch_id.in_(ids)).order_by(Invoice.due_date)):
        links[did].append(inv)
    people = {c.id: c for c in s.execute(select(Customer).where(
        Customer.id.in_({d.customer_id for d in ds}))).scalars()}
    works = [Work(d, people[d.customer_id], links[d.id], "") for d in ds]
    preload(ws, works, s)
    out: dict[int, Any] = {}
    for w in works:
        try:
            out[w.dispatch.id] = (_render(s, ws, w.dispatch, w.customer, w.invoices, today,
                                          work=w, html=html), w)
        except Exception as exc:  # shown beside the dispatch, never breaking the page
            out[w.dispatch.id] = (exc, w)
    return out


def template_preview(s: Session, ws: Workspace, template: str, customer: Customer,
                     today: dt.date, language: str | None = None):
    """Any template rendered for any customer, on their open invoices as they are now: what
    a person checks before a template goes into a scenario. Nothing is stored."""
    invoices = list(s.execute(select(Invoice).where(
        Invoice.customer_id == customer.id, Invoice.status == "open",
        Invoice.kind == "invoice").order_by(Invoice.due_date)).scalars())
    owed = [i for i in invoices if i.amount_due > 0]
    currencies = {i.currency for i in owed}
    d = Dispatch(id=0, idempotency_key="preview", customer_id=customer.id, scenario="preview",
                 step="preview", step_index=0, channel="email", template=template,
                 planned_on=today, invoice_count=len(owed),
                 currency=currencies.pop() if len(currencies) == 1 else "MIXED",
                 amount=sum((i.amount_due for i in owed), Decimal(0)) if owed else None)
    return _render(s, ws, d, customer, owed, today, language)


def _render(s: Session, ws: Workspace, d: Dispatch, c: Customer, invoices: list[Invoice],
            today: dt.date, language: str | None = None, work=None, html: bool = True):
    from hub.contracts import Message
    from hub.send.compose import Work, babel_locale, context, preload, recipient

    rcpt = recipient(c, ws)
    if language:
        rcpt = rcpt.model_copy(update={"language": language})
    if work is None:
        work = Work(d, c, invoices, "")
        preload(ws, [work], s)
    locale = babel_locale(rcpt.language, rcpt.country, ws.config.company.babel_locale)
    ctx = context(ws, work, rcpt, today, locale, work.owed or [], None)
    rendered = renderer_for(ws).render(d.template, rcpt.language, ctx, html=html)
    return Message(idempotency_key="preview", dispatch_id=d.id, scenario=d.scenario,
                   step=d.step, template=rendered.template, recipient=rcpt,
                   company=ws.company, subject=rendered.subject, text=rendered.text,
                   html=rendered.html)


def preview_plan(ws: Workspace, *, today: dt.date | None = None,
                 scenarios: list[str] | None = None) -> PlanReport:
    """Today's plan as it would be made, each dispatch rendered, nothing kept (`relance
    plan`); `report.diff` says what changed since the last run."""
    from hub.clock import today_in

    diff: dict[str, int] = {}
    day = today or today_in(ws.config.company.timezone)

    def inspect(s: Session, ids: list[int]) -> list[PlanRow]:
        diff.update(run_diff(s, ids, day))
        return snapshot(s, ws, ids)
    report = plan(ws, today=day, dry_run=True, scenarios=scenarios, inspect=inspect)
    diff["suppressed_by_account"] = report.suppressed
    report.diff = diff
    return report


def run_diff(s: Session, new_ids: list[int], today: dt.date) -> dict[str, int]:
    """Counts for the line that ends `relance plan`: the new reminders (and how many wait
    for a person), the earlier ones still waiting, the earlier ones that will not go because
    their invoices were paid since, and the open invoices a case state holds."""
    from sqlalchemy import exists, func, or_

    from hub.plan.cases import KINDS, open_states
    from hub.store.models import CaseState

    d, di, inv = Dispatch.__table__.c, DispatchInvoice.__table__.c, Invoice.__table__.c
    first_new = min(new_ids) if new_ids else None
    earlier = d.id < first_new if first_new else d.id.is_not(None)
    still_owed = exists(select(di.invoice_id).join(Invoice.__table__, inv.id == di.invoice_id)
                        .where(di.dispatch_id == d.id, inv.status == "open",
                               inv.hub_paid_at.is_(None)))
    c = CaseState.__table__.c
    live = open_states(today, list(KINDS))
    held = select(func.count()).select_from(Invoice.__table__).where(
        inv.status == "open", inv.kind == "invoice", inv.hub_paid_at.is_(None), or_(
            exists(select(c.id).where(live, c.invoice_id == inv.id)),
            exists(select(c.id).where(live, c.customer_id == inv.customer_id))))
    def n(*where) -> int:
        return s.execute(select(func.count()).select_from(Dispatch.__table__)
                         .where(*where)).scalar_one()
    return {
        "new": len(new_ids),
        "new_waiting_for_approval": n(d.id.in_(new_ids), d.status == "planned") if new_ids else 0,
        "earlier_waiting_for_approval": n(earlier, d.status == "planned"),
        "paid_since_planned": n(earlier, d.status.in_(("planned", "approved")), ~still_owed),
        "held_by_case_states": s.execute(held).scalar_one(),
    }
