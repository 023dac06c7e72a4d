"""Today: the plan as dispatches, each with the message it would send; approve, reject
with a reason, or hold the customer, one by one or by filter; what was left out and why."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from starlette.routing import Route

from hub.clock import today_in
from hub.errors import RelanceError
from hub.send.approvals import QueueFilter, approve, reject
from hub.send.preview import rendered_messages
from hub.store.db import session
from hub.store.models import Customer, Dispatch, Event
from hub.web.forms import amount
from hub.web.render import render
from hub.web.security import answer, back, flash, guarded

PAGE = 100
SHOWN = {"waiting": ["planned"], "approved": ["approved"], "sent": ["sent"],
         "problems": ["failed", "uncertain"]}


def _filter(params) -> QueueFilter:
    def money(name):
        try:
            return amount(params.get(name))
        except RelanceError:
            return None
    return QueueFilter(scenario=params.get("scenario") or None, step=params.get("step") or None,
                       customer=params.get("customer") or None, above=money("above"),
                       below=money("below"))


def _row(msg, work, today: dt.date) -> dict:
    """One dispatch as the page shows it: who, what, how much, why, and the message."""
    d, late = work.dispatch, max(((today - i.due_date).days for i in work.invoices), default=0)
    when = (f"{late} days overdue" if late > 0 else f"due in {-late} days" if late < 0
            else "due today")
    failed = isinstance(msg, Exception)
    return {"id": d.id, "customer": work.customer.name, "scenario": d.scenario, "step": d.step,
            "channel": d.channel, "status": d.status, "amount": d.amount,
            "currency": d.currency, "invoices": [i.number for i in work.invoices],
            "why": f"step {d.step} of scenario {d.scenario}: {when}",
            "approval": d.approval_reason, "error": str(msg) if failed else None,
            "subject": "" if failed else msg.subject, "text": "" if failed else msg.text,
            "to": "" if failed else msg.recipient.email or msg.recipient.mobile or ""}


def _day_start(ws, today: dt.date) -> dt.datetime:
    tz = ZoneInfo(ws.config.company.timezone)
    return dt.datetime.combine(today, dt.time(), tzinfo=tz).astimezone(dt.UTC)


def routes(ws) -> list[Route]:
    @guarded(ws)
    def today_page(request, user, form):
        p = request.query_params
        show = p.get("show", "waiting") if p.get("show") in SHOWN else "waiting"
        page = max(1, int(p.get("page", "1")) if p.get("page", "1").isdigit() else 1)
        which = _filter(p)
        today = today_in(ws.config.company.timezone)
        with session(ws.engine) as s:
            q = which.where(select(Dispatch.id).where(Dispatch.status.in_(SHOWN[show])))
            if show == "sent":
                q = q.where(Dispatch.sent_at >= _day_start(ws, today))
            total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
            ids = list(s.execute(q.order_by(Dispatch.id).offset((page - 1) * PAGE)
                                 .limit(PAGE)).scalars())
            page_rows = list(s.execute(select(Dispatch).where(Dispatch.id.in_(ids))
                                       .order_by(Dispatch.id)).scalars())
            rows = [_row(msg, work, today)
                    for msg, work in rendered_messages(s, ws, page_rows, today).values()]
            counts = dict(s.execute(select(Dispatch.status, func.count()).where(
                or_(Dispatch.status.in_(["planned", "approved", "failed", "uncertain"]),
                    Dispatch.sent_at >= _day_start(ws, today))).group_by(Dispatch.status)).all())
            left_out = s.execute(select(Event, Customer.name).outerjoin(
                Customer, Customer.id == Event.customer_id).where(
                Event.kind == "suppressed", Event.at >= _day_start(ws, today))
                .order_by(Event.id.desc()).limit(200)).all()
            scenarios = sorted(ws.config.scenarios)
        tabs = [(key, label, sum(counts.get(st, 0) for st in SHOWN[key]))
                for key, label in (("waiting", "Waiting for approval"),
                                   ("approved", "Approved, to go"), ("sent", "Sent today"),
                                   ("problems", "Failed or uncertain"))]
        return render(request, ws, user, "today.html", rows=rows, show=show,
                      total=total, page=page, pages=max(1, -(-total // PAGE)), tabs=tabs,
                      left_out=left_out, which=which, params=p, scenarios=scenarios,
                      today=today, until=today + dt.timedelta(days=7))

    @guarded(ws, "approver")
    def approve_one(request, user, form):
        did = request.path_params["id"]
        n = approve(ws, [did], by=user.username)
        return answer(request, f"reminder {did} approved: it goes in the next send pass" if n
                      else f"reminder {did} was no longer waiting", "ok" if n else "warn",
                      "/today")

    @guarded(ws, "approver")
    def reject_one(request, user, form):
        did = request.path_params["id"]
        try:
            n = reject(ws, [did], str(form.get("reason", "")), by=user.username)
        except RelanceError as exc:  # the card stays, with the reason asked for
            return answer(request, str(exc), "error", "/today", keep=True)
        return answer(request, f"reminder {did} rejected" if n else
                      f"reminder {did} was no longer waiting", "ok" if n else "warn", "/today")

    @guarded(ws, "approver")
    def hold_one(request, user, form):
        """Hold the customer until a date: a `hold` case state, and this reminder withdrawn."""
        from hub.plan.cases import open_case

        did = request.path_params["id"]
        try:
            until = dt.date.fromisoformat(str(form.get("until", "")))
        except ValueError:
            return answer(request, "hold until: pick a date", "error", "/today", keep=True)
        reason = str(form.get("reason") or "").strip() or "held from the dashboard"
        with session(ws.engine, immediate=True) as s:
            d = s.get(Dispatch, did)
            customer = s.get(Customer, d.customer_id) if d else None
            if d is None or d.status != "planned" or customer is None:
                return answer(request, f"reminder {did} was no longer waiting", "warn",
                              "/today")
            open_case(s, "hold", customer=customer.id, until=until, reason=reason,
                      by=user.username)
        reject(ws, [did], f"customer held until {until}: {reason}", by=user.username)
        return answer(request, f"{customer.name} held until {until}; reminder {did} withdrawn",
                      default="/today")

    @guarded(ws, "approver")
    def approve_many(request, user, form):
        which = _filter(form)
        if which.empty and form.get("all") != "yes":
            flash(request, "say which: a scenario, step, customer or amount, or tick "
                  "'every waiting reminder'", "error")
            return back(request, "/today")
        n = approve(ws, which, by=user.username)
        flash(request, f"{n} reminder(s) approved")
        return back(request, "/today")

    return [Route("/today", today_page),
            Route("/dispatches/approve", approve_many, methods=["POST"]),
            Route("/dispatches/{id:int}/approve", approve_one, methods=["POST"]),
            Route("/dispatches/{id:int}/reject", reject_one, methods=["POST"]),
            Route("/dispatches/{id:int}/hold", hold_one, methods=["POST"])]
