"""Overview and reports: what is owed and overdue, DSO, aged balance, cash collected after
reminders, the connections' freshness; the reports pages.

The figures read every open invoice. They are computed once per change of the data — the
stamp is the last event, payment and sync — and kept in memory, so the page costs a few
index reads between changes, however many invoices the store holds."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, func, select
from starlette.routing import Route

from hub.clock import today_in, utcnow
from hub.reports.collection import collector, effectiveness
from hub.reports.dso import dso_trend
from hub.reports.figures import BUCKETS, aging
from hub.store.db import session
from hub.store.models import Connection, Dispatch, DispatchInvoice, Event, Invoice, Payment
from hub.web.render import render
from hub.web.security import guarded

_cache: dict[str, tuple[Any, Any]] = {}
_lock = threading.Lock()


def _stamp(ws, today: dt.date) -> tuple:
    with session(ws.engine) as s:
        return (today, s.execute(select(func.max(Event.id))).scalar(),
                s.execute(select(func.max(Payment.id))).scalar(),
                tuple(s.execute(select(Connection.id, Connection.sync_generation,
                                       Connection.last_sync_ok_at)).all()))


def cached(ws, name: str, today: dt.date, compute) -> Any:
    """`compute()` once per data stamp (one computation at a time per figure)."""
    key = f"{ws.root}:{name}"
    stamp = _stamp(ws, today)
    hit = _cache.get(key)
    if hit and hit[0] == stamp:
        return hit[1]
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] == stamp:
            return hit[1]
        value = compute()
        _cache[key] = (stamp, value)
        return value


def collected_after_reminders(ws, today: dt.date, days: int = 90) -> dict[str, Decimal]:
    """Invoices paid in the last `days` days after at least one reminder was sent for them."""
    d, di, inv = Dispatch.__table__.c, DispatchInvoice.__table__.c, Invoice.__table__.c
    since = dt.datetime.combine(today - dt.timedelta(days=days), dt.time(), tzinfo=dt.UTC)
    reminded = exists(select(di.invoice_id).join(Dispatch.__table__, d.id == di.dispatch_id)
                      .where(di.invoice_id == inv.id, d.status == "sent",
                             d.sent_at <= inv.paid_at))
    with session(ws.engine) as s:
        rows = s.execute(select(inv.currency, func.sum(inv.total)).where(
            and_(inv.paid_at >= since, inv.kind == "invoice", reminded)).group_by(inv.currency))
        return {cur: Decimal(v) for cur, v in rows}


def freshness(ws) -> list[dict[str, Any]]:
    """Each connection's state and how old its last good sync is (one small query)."""
    now = utcnow()
    with session(ws.engine) as s:
        rows = s.execute(select(Connection)).scalars().all()
    out = []
    for c in rows:
        last = c.last_sync_ok_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=dt.UTC)
        out.append({"name": c.name, "plugin": c.plugin, "state": c.state,
                    "detail": c.state_detail, "last_sync_ok_at": last,
                    "lag_hours": round((now - last).total_seconds() / 3600, 1) if last else None})
    return out


def _figures(ws, today: dt.date) -> dict[str, Any]:
    ages = aging(ws, today)
    owed = {cur: {"outstanding": row["total"],
                  "overdue": sum((row[b] for b in BUCKETS if b != "not_due"), Decimal(0)),
                  "buckets": {b: row[b] for b in BUCKETS}} for cur, row in ages.items()}
    trend = dso_trend(ws, today, months=12, method="countback")
    simple = {(r["month"], r["currency"]): r["dso_days"]
              for r in dso_trend(ws, today, months=12, method="simple")}
    for r in trend:
        r["simple_days"] = simple.get((r["month"], r["currency"]))
    return {"owed": owed, "trend": trend, "collected": collected_after_reminders(ws, today)}


def routes(ws) -> list[Route]:
    @guarded(ws)
    def overview(request, user, form):
        today = today_in(ws.config.company.timezone)
        figures = cached(ws, "overview", today, lambda: _figures(ws, today))
        conns = freshness(ws)
        chart = {cur: {"months": [r["month"] for r in figures["trend"] if r["currency"] == cur],
                       "countback": [_f(r["dso_days"]) for r in figures["trend"]
                                     if r["currency"] == cur],
                       "simple": [_f(r["simple_days"]) for r in figures["trend"]
                                  if r["currency"] == cur]}
                 for cur in figures["owed"]}
        peak = {cur: max([*o["buckets"].values(), Decimal(1)]) for cur, o in figures["owed"].items()}
        return render(request, ws, user, "overview.html", today=today, buckets=BUCKETS,
                      chart=chart, peak=peak, conns=conns, **figures)

    @guarded(ws)
    def reports(request, user, form):
        today = today_in(ws.config.company.timezone)
        method = request.query_params.get("method", "countback")
        method = method if method in ("countback", "simple") else "countback"
        trend = cached(ws, f"dso-{method}", today,
                       lambda: dso_trend(ws, today, months=12, method=method))
        return render(request, ws, user, "reports.html", method=method, trend=trend,
                      effect=cached(ws, "effectiveness", today, lambda: effectiveness(ws, today)),
                      work=collector(ws, today))

    return [Route("/", overview), Route("/reports", reports)]


def _f(v) -> float | None:
    return None if v is None else float(v)
