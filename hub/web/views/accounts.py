"""Customers and invoices: search, the customer's whole story, and the actions a credit
controller takes on an account (hold, promise, dispute, payment plan, note, call outcome)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, or_, select
from starlette.routing import Route

from hub.clock import today_in
from hub.errors import RelanceError
from hub.money import quantize
from hub.plan.cases import KINDS, close_case, open_case, open_states
from hub.store.db import session
from hub.store.events import record_event
from hub.store.models import (
    CaseState,
    Customer,
    Dispatch,
    Event,
    Invoice,
    Payment,
    Task,
)
from hub.web.forms import amount, day, instalments
from hub.web.render import render
from hub.web.security import back, flash, guarded

PAGE = 50


def _balances(s, ids: list[int]) -> dict[int, dict[str, Decimal]]:
    out: dict[int, dict[str, Decimal]] = {i: {} for i in ids}
    for cid, cur, kind, due in s.execute(
            select(Invoice.customer_id, Invoice.currency, Invoice.kind,
                   func.sum(Invoice.amount_due)).where(
                Invoice.customer_id.in_(ids), Invoice.status == "open")
            .group_by(Invoice.customer_id, Invoice.currency, Invoice.kind)):
        out[cid][cur] = out[cid].get(cur, Decimal(0)) + (-due if kind == "credit_note" else due)
    return out


def _states(s, ids: list[int], today: dt.date) -> dict[int, list[str]]:
    cs = CaseState.__table__.c
    owner = func.coalesce(cs.customer_id, select(Invoice.customer_id).where(
        Invoice.id == cs.invoice_id).scalar_subquery())
    out: dict[int, list[str]] = {}
    for cid, kind in s.execute(select(owner, cs.kind).where(
            open_states(today, list(KINDS)), or_(cs.customer_id.in_(ids), cs.invoice_id.in_(
                select(Invoice.id).where(Invoice.customer_id.in_(ids)))))):
        out.setdefault(cid, []).append(kind.replace("_", " "))
    return out


def timeline(s, c: Customer) -> list[dict]:
    """Everything that happened on the account, newest first: invoices issued, reminders
    sent or held, deliveries, payments, case states, notes, calls."""
    inv_ids = list(s.execute(select(Invoice.id).where(Invoice.customer_id == c.id)).scalars())
    dids = list(s.execute(select(Dispatch.id).where(Dispatch.customer_id == c.id)).scalars())
    ev = Event.__table__.c
    events = s.execute(select(Event).where(or_(
        ev.customer_id == c.id, ev.dispatch_id.in_(dids) if dids else False,
        ev.invoice_id.in_(inv_ids) if inv_ids else False)).order_by(ev.id.desc()).limit(300)
    ).scalars().all()
    items = [{"at": e.at, "kind": e.kind, "text": e.message, "dispatch": e.dispatch_id,
              "level": e.level} for e in events]
    exts = list(s.execute(select(Invoice.external_id).where(Invoice.id.in_(inv_ids))).scalars())
    for p in s.execute(select(Payment).where(Payment.connection_id == c.connection_id, or_(
            Payment.customer_external_id == c.external_id,
            Payment.invoice_external_id.in_(exts) if exts else False))).scalars():
        items.append({"at": dt.datetime.combine(p.date, dt.time(), tzinfo=dt.UTC),
                      "kind": "payment", "dispatch": None, "level": "info",
                      "text": f"payment {quantize(p.amount, p.currency)} {p.currency}"
                              + (" (void)" if p.void else "")})
    for i in s.execute(select(Invoice).where(Invoice.id.in_(inv_ids))).scalars():
        if i.issue_date:
            items.append({"at": dt.datetime.combine(i.issue_date, dt.time(), tzinfo=dt.UTC),
                          "kind": "issued", "dispatch": None, "level": "info",
                          "text": f"{i.kind.replace('_', ' ')} {i.number} issued: "
                                  f"{quantize(i.total, i.currency)} {i.currency}, due {i.due_date}"})
    aware = lambda t: t if t.tzinfo else t.replace(tzinfo=dt.UTC)  # noqa: E731
    return sorted(items, key=lambda x: aware(x["at"]), reverse=True)


def routes(ws) -> list[Route]:
    @guarded(ws)
    def customers(request, user, form):
        q = (request.query_params.get("q") or "").strip()
        page = request.query_params.get("page", "1")
        page = int(page) if page.isdigit() and int(page) > 0 else 1
        today = today_in(ws.config.company.timezone)
        with session(ws.engine) as s:
            where = []
            if q:
                like = f"%{q}%"
                where.append(or_(Customer.name.ilike(like), Customer.code == q,
                                 Customer.email.ilike(like), Customer.external_id == q))
            total = s.execute(select(func.count()).select_from(Customer).where(*where)).scalar()
            people = s.execute(select(Customer).where(*where).order_by(Customer.name)
                               .offset((page - 1) * PAGE).limit(PAGE)).scalars().all()
            ids = [c.id for c in people]
            last = dict(s.execute(select(Dispatch.customer_id, func.max(Dispatch.sent_at)).where(
                Dispatch.customer_id.in_(ids)).group_by(Dispatch.customer_id)).all())
            balances, states = (_balances(s, ids), _states(s, ids, today)) if ids else ({}, {})
            rows = [{"c": c, "balance": balances[c.id], "states": states.get(c.id, []),
                     "last": last.get(c.id)} for c in people]
        return render(request, ws, user, "customers.html", rows=rows, q=q, page=page,
                      pages=max(1, -(-total // PAGE)), total=total)

    @guarded(ws)
    def customer(request, user, form):
        cid = request.path_params["id"]
        today = today_in(ws.config.company.timezone)
        with session(ws.engine) as s:
            c = s.get(Customer, cid)
            if c is None:
                return render(request, ws, user, "missing.html", status_code=404,
                              what=f"customer {cid}")
            invoices = s.execute(select(Invoice).where(Invoice.customer_id == cid).order_by(
                Invoice.status != "open", Invoice.due_date)).scalars().all()
            cs = CaseState.__table__.c
            states = s.execute(select(CaseState).where(or_(
                cs.customer_id == cid, cs.invoice_id.in_([i.id for i in invoices]) if invoices
                else False)).order_by(cs.id.desc())).scalars().all()
            tasks = s.execute(select(Task).where(Task.customer_id == cid, Task.status == "open")
                              ).scalars().all()
            story = timeline(s, c)
            balance = _balances(s, [cid])[cid]
        numbers = {i.id: i.number for i in invoices}
        return render(request, ws, user, "customer.html", c=c, invoices=invoices, states=states,
                      numbers=numbers, tasks=tasks, story=story, balance=balance, today=today,
                      live=[x for x in states if x.closed_at is None and
                            (x.until is None or x.until >= today)])

    @guarded(ws)
    def invoice(request, user, form):
        from hub.reports.explain import explain

        iid = request.path_params["id"]
        with session(ws.engine) as s:
            inv = s.get(Invoice, iid)
            if inv is None:
                return render(request, ws, user, "missing.html", status_code=404,
                              what=f"invoice {iid}")
            ref = inv.number
        try:
            why = explain(ws, ref, today_in(ws.config.company.timezone))
        except RelanceError as exc:
            why = {"error": str(exc)}
        return render(request, ws, user, "invoice.html", inv=inv, why=why)

    @guarded(ws, "approver")
    def open_state(request, user, form):
        cid = request.path_params["id"]
        kind = str(form.get("kind", ""))
        try:
            with session(ws.engine, immediate=True) as s:
                number = str(form.get("invoice") or "") or None
                st = open_case(s, kind, invoice=number, customer=None if number else cid,
                               until=day(form.get("until")), amount=amount(form.get("amount")),
                               reason=str(form.get("reason") or "") or None, by=user.username,
                               instalments=instalments(str(form.get("instalments") or ""))
                               or None)
                flash(request, f"{kind.replace('_', ' ')} set (case {st.id})")
        except RelanceError as exc:
            flash(request, str(exc), "error")
        return back(request, f"/customers/{cid}")

    @guarded(ws, "approver")
    def close_state(request, user, form):
        try:
            with session(ws.engine, immediate=True) as s:
                close_case(s, request.path_params["id"], outcome=str(form.get("outcome") or
                                                                     "resolved"),
                           reason=str(form.get("reason") or "") or None, by=user.username,
                           config=ws.config)
            flash(request, f"case {request.path_params['id']} closed")
        except RelanceError as exc:
            flash(request, str(exc), "error")
        return back(request, "/customers")

    @guarded(ws, "approver")
    def note(request, user, form):
        cid, text = request.path_params["id"], str(form.get("text") or "").strip()
        if not text:
            flash(request, "the note is empty", "error")
            return back(request, f"/customers/{cid}")
        with session(ws.engine, immediate=True) as s:
            record_event(s, "note", f"{user.username}: {text[:2000]}", customer_id=cid,
                         data={"by": user.username})
        flash(request, "note added")
        return back(request, f"/customers/{cid}")

    @guarded(ws, "approver")
    def call_outcome(request, user, form):
        from hub.feedback.call_tasks import complete_task

        tid = request.path_params["id"]
        try:
            with session(ws.engine, immediate=True) as s:
                complete_task(s, tid, str(form.get("outcome") or ""),
                              until=day(form.get("until")), amount=amount(form.get("amount")),
                              reason=str(form.get("reason") or "") or None, by=user.username)
            flash(request, f"call {tid}: {form.get('outcome')} recorded")
        except RelanceError as exc:
            flash(request, str(exc), "error")
        return back(request, "/customers")

    return [Route("/customers", customers), Route("/customers/{id:int}", customer),
            Route("/invoices/{id:int}", invoice),
            Route("/customers/{id:int}/cases", open_state, methods=["POST"]),
            Route("/cases/{id:int}/close", close_state, methods=["POST"]),
            Route("/customers/{id:int}/notes", note, methods=["POST"]),
            Route("/tasks/{id:int}/outcome", call_outcome, methods=["POST"])]
