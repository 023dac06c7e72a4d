"""Numbers an accountant asks for: aged balance, DSO, and the state of the outbox."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from hub.money import quantize
from hub.store.db import session
from hub.store.models import Connection, Dispatch, Invoice, Task
from hub.workspace import Workspace

BUCKETS = ("not_due", "1-30", "31-60", "61-90", "90+")


def aging(ws: Workspace, today: dt.date) -> dict[str, dict[str, Decimal]]:
    """Open amounts per currency and age bucket (one grouped query)."""
    d = Invoice.due_date
    bucket = case(
        (d >= today, "not_due"),
        (d >= today - dt.timedelta(days=30), "1-30"),
        (d >= today - dt.timedelta(days=60), "31-60"),
        (d >= today - dt.timedelta(days=90), "61-90"),
        else_="90+")
    out: dict[str, dict[str, Decimal]] = {}
    with session(ws.engine) as s:
        rows = s.execute(select(Invoice.currency, bucket.label("b"), Invoice.kind,
                                func.sum(Invoice.amount_due))
                         .where(Invoice.status == "open")
                         .group_by(Invoice.currency, "b", Invoice.kind)).all()
    for currency, b, kind, amount in rows:
        row = out.setdefault(currency, {k: Decimal("0") for k in (*BUCKETS, "total")})
        amount = -amount if kind == "credit_note" else amount
        if kind == "credit_note":  # unapplied credit reduces the balance, unbucketed
            row["total"] += amount
            continue
        row[b] += amount
        row["total"] += amount
    return dict(sorted(out.items()))


def dso(ws: Workspace, today: dt.date, days: int = 90) -> dict[str, dict[str, Any]]:
    """Days sales outstanding per currency, by the countback method: walk back from today
    through each day's sales until they account for the open receivables.

    The figure cannot exceed the period: when the period's sales do not cover what is open,
    it is `days` with `capped` set, and a longer `--days` gives the true figure."""
    start = today - dt.timedelta(days=days - 1)
    with session(ws.engine) as s:
        open_rows = dict(s.execute(select(Invoice.currency, func.sum(Invoice.amount_due)).where(
            Invoice.status == "open", Invoice.kind == "invoice").group_by(Invoice.currency)).all())
        daily = s.execute(select(Invoice.currency, Invoice.issue_date, func.sum(Invoice.total))
                          .where(Invoice.kind == "invoice", Invoice.issue_date >= start,
                                 Invoice.issue_date <= today)
                          .group_by(Invoice.currency, Invoice.issue_date)).all()
    sales: dict[str, dict[dt.date, Decimal]] = {}
    for cur, day, amount in daily:
        sales.setdefault(cur, {})[day] = amount
    out: dict[str, dict[str, Any]] = {}
    for cur in sorted(set(open_rows) | set(sales)):
        receivable = owed = open_rows.get(cur) or Decimal(0)
        by_day, counted, capped = sales.get(cur, {}), Decimal(0), True
        for back in range(days):
            sold = by_day.get(today - dt.timedelta(days=back), Decimal(0))
            if receivable <= sold:
                counted += receivable / sold if sold else 0
                capped = False
                break
            receivable -= sold
            counted += 1
        out[cur] = {"days": counted.quantize(Decimal("0.1")), "capped": capped,
                    "open": quantize(owed, cur), "sales": quantize(sum(by_day.values(),
                                                                       Decimal(0)), cur)}
    return out


def status(ws: Workspace) -> dict[str, Any]:
    with session(ws.engine) as s:
        states = dict(s.execute(select(Dispatch.status, func.count()).group_by(Dispatch.status)).all())
        holds = dict(s.execute(select(Dispatch.hold_reason, func.count()).where(
            Dispatch.status == "approved", Dispatch.hold_reason.is_not(None))
            .group_by(Dispatch.hold_reason)).all())
        conns = s.execute(select(Connection)).scalars().all()
        invoices = dict(s.execute(select(Invoice.status, func.count()).group_by(Invoice.status)).all())
        tasks = s.execute(select(func.count()).select_from(Task).where(Task.status == "open")).scalar()
    return {
        "dispatches": {k: states.get(k, 0) for k in
                       ("planned", "approved", "sending", "sent", "failed", "cancelled", "uncertain")},
        "held": holds,
        "invoices": invoices,
        "open_tasks": tasks,
        "connections": [{
            "name": c.name, "plugin": c.plugin, "state": c.state, "detail": c.state_detail,
            "last_sync_ok_at": c.last_sync_ok_at.isoformat() if c.last_sync_ok_at else None,
            "paused_until": c.paused_until.isoformat() if c.paused_until else None,
        } for c in conns],
    }
