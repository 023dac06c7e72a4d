"""How well reminders work, and what a collector has to do today.

- `effectiveness`: per scenario step and channel (and currency), of the amount reminded,
  the share paid within 7, 14 and 30 days of the reminder, and the median days to pay. An
  invoice reminded at two steps counts at each: each step is judged on what followed it.
- `collector`: open call tasks, promises falling due, open disputes, reminders waiting for
  approval.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from hub.plan.cases import open_states
from hub.store.db import session
from hub.store.models import CaseState, Customer, Dispatch, DispatchInvoice, Invoice, Task
from hub.workspace import Workspace

WINDOWS = (7, 14, 30)
ZERO = Decimal(0)


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t


def effectiveness(ws: Workspace, today: dt.date, *, since: dt.date | None = None
                  ) -> list[dict[str, Any]]:
    since = since or today - dt.timedelta(days=180)
    d, di, inv = Dispatch.__table__.c, DispatchInvoice.__table__.c, Invoice.__table__.c
    groups: dict[tuple, dict[str, Any]] = defaultdict(lambda: {
        "reminders": set(), "amount": ZERO, **{f"paid_{w}d": ZERO for w in WINDOWS},
        "days": []})
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
    with session(ws.engine) as s:
        q = (select(d.id, d.scenario, d.step, d.channel, d.sent_at, inv.currency, inv.total,
                    inv.paid_at)
             .select_from(Dispatch.__table__.join(DispatchInvoice.__table__,
                                                  di.dispatch_id == d.id)
                          .join(Invoice.__table__, inv.id == di.invoice_id))
             .where(d.status == "sent", d.sent_at >= start))
        for did, scenario, step, channel, sent_at, cur, total, paid_at in \
                s.execute(q.execution_options(yield_per=5000)):
            g = groups[(scenario, step, channel, cur)]
            g["reminders"].add(did)
            g["amount"] += total
            sent_at, paid_at = _aware(sent_at), _aware(paid_at)
            if paid_at is None or paid_at < sent_at:
                continue
            days = (paid_at - sent_at).total_seconds() / 86400
            g["days"].append(days)
            for w in WINDOWS:
                if days <= w:
                    g[f"paid_{w}d"] += total
    rows = []
    for (scenario, step, channel, cur), g in sorted(groups.items()):
        amount = g["amount"]
        rows.append({"scenario": scenario, "step": step, "channel": channel, "currency": cur,
                     "reminders": len(g["reminders"]), "amount_reminded": amount,
                     **{f"paid_within_{w}d_pct": (g[f"paid_{w}d"] / amount * 100).quantize(
                         Decimal("0.1")) if amount else None for w in WINDOWS},
                     "median_days_to_pay": round(statistics.median(g["days"]), 1)
                     if g["days"] else None})
    return rows


def collector(ws: Workspace, today: dt.date, *, ahead: int = 7) -> dict[str, list[dict]]:
    """What needs a person, oldest first."""
    cs, c = CaseState.__table__.c, Customer.__table__.c
    mine = Invoice.__table__.alias("own")  # not correlated with the invoice joined below
    owner = func.coalesce(cs.customer_id, select(mine.c.customer_id).where(
        mine.c.id == cs.invoice_id).scalar_subquery())
    with session(ws.engine) as s:
        tasks = [{"task": t.id, "customer": name, "title": t.title, "since": t.created_at}
                 for t, name in s.execute(select(Task, Customer.name).join(
                     Customer, Customer.id == Task.customer_id).where(
                     Task.status == "open").order_by(Task.id))]

        def states(kind: str, *where) -> list[dict]:
            q = (select(CaseState, Customer.name, Invoice.number).select_from(CaseState)
                 .join(Customer, c.id == owner)
                 .outerjoin(Invoice, Invoice.id == cs.invoice_id)
                 .where(open_states(today, [kind]), *where).order_by(cs.until, cs.id))
            return [{"case": st.id, "customer": name, "invoice": number, "amount": st.amount,
                     "until": st.until, "reason": st.reason, "by": st.opened_by}
                    for st, name, number in s.execute(q)]
        promises = states("promise", cs.until <= today + dt.timedelta(days=ahead))
        disputes = states("dispute")
        waiting = [{"scenario": sc, "step": step, "currency": cur, "reminders": n,
                    "amount": amount}
                   for sc, step, cur, n, amount in s.execute(
                       select(Dispatch.scenario, Dispatch.step, Dispatch.currency, func.count(),
                              func.sum(Dispatch.amount)).where(Dispatch.status == "planned")
                       .group_by(Dispatch.scenario, Dispatch.step, Dispatch.currency))]
    return {"call_tasks": tasks, "promises_due": promises, "disputes": disputes,
            "approvals_waiting": waiting}
