"""`relance simulate`: the scenarios replayed day by day over today's data, sending nothing.

It runs the real planner on a throwaway copy of the store: each day it judges promises and
payment plans, lets holds lapse, plans, and counts what was planned as sent that day (so
the next step follows as it would). Nothing of a second rule set: what it shows is what
the planner would do, given that nobody pays — unless `assume_paid`, where each promise
is kept on its date.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, or_, select, update

from hub.errors import PermanentError
from hub.money import quantize
from hub.plan.planner import plan
from hub.send import outbox
from hub.store.copy import copy_to_sqlite
from hub.store.db import migrate, session
from hub.store.models import CaseState, Customer, Dispatch, DispatchInvoice, Invoice, customer_named
from hub.workspace import Workspace


def throwaway(ws: Workspace, folder: Path) -> Workspace:
    """A copy of the workspace on a copy of its store (SQLite's online backup, or the
    PostgreSQL store's tables copied into SQLite). Nothing in it has to survive a crash,
    so it is written without a journal on disk or a sync."""
    copy = copy_to_sqlite(ws.engine, folder / "simulate.db")
    sim = Workspace(ws.root, ws.loaded, ws.registry, database_url=copy)
    migrate(sim.engine)  # the copy, not the store: a read-only command changes nothing
    sim.engine.dispose()
    event.listen(sim.engine, "connect", _unsafe_and_fast)
    return sim


def _unsafe_and_fast(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=MEMORY")
    cur.execute("PRAGMA synchronous=OFF")
    cur.close()


def _case_changes(s, day: dt.date, seen: dict[int, Any]) -> list[dict[str, Any]]:
    """Case states closed by the day's plan, or lapsed at the day's start (the first call,
    with nothing seen, notes the open ones)."""
    out = []
    cs, inv, cust = CaseState.__table__.c, Invoice.__table__.c, Customer.__table__.c
    q = select(cs.id, cs.kind, cs.closed_at, cs.outcome, cs.until, cs.data, cust.name).select_from(
        CaseState.__table__.outerjoin(Invoice.__table__, inv.id == cs.invoice_id).join(
            Customer.__table__, cust.id == func.coalesce(cs.customer_id, inv.customer_id)))
    if seen:  # (columns, not objects: read every simulated day)
        q = q.where(or_(cs.closed_at.is_not(None), cs.until == day - dt.timedelta(days=1)))
    for c in s.execute(q).all():
        name = c.name
        before = seen.get(c.id)
        if before is None and c.closed_at is None:
            seen[c.id] = "open"
            continue
        if before == "open" and c.closed_at is not None:
            out.append({"customer": name, "why": f"{c.kind.replace('_', ' ')} {c.outcome}: "
                        + c.data.get("closed_because", "")})
            seen[c.id] = "closed"
        elif before == "open" and c.until is not None and c.until == day - dt.timedelta(days=1) \
                and c.kind in ("hold", "legal_hold", "dispute", "in_collection"):
            out.append({"customer": name, "why": f"{c.kind} ended on {c.until}: reminders resume"})
            seen[c.id] = "lapsed"
    return out


def simulate(ws: Workspace, start: dt.date, end: dt.date, *, scenario: str | None = None,
             customer: str | None = None, assume_paid: bool = False) -> list[dict[str, Any]]:
    if end < start:
        raise PermanentError("--to comes before --from")
    names = None
    if customer:  # by name, code or ledger id, as everywhere; checked before any work
        with session(ws.engine) as s:
            names = set(s.execute(select(Customer.name).where(customer_named(customer))).scalars())
        if not names:
            raise PermanentError(f"no customer {customer!r} (see `relance customers`)")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="relance-simulate-") as folder:
        sim = throwaway(ws, Path(folder))
        seen: dict[int, Any] = {}
        with session(sim.engine) as s:
            _case_changes(s, start, seen)
        day = start
        while day <= end:
            if assume_paid:
                _keep_promises(sim, day)
            report = plan(sim, today=day, scenarios=[scenario] if scenario else None,
                          incremental=True, audit=False)
            with session(sim.engine, immediate=True) as s:
                for change in _case_changes(s, day, seen):
                    rows.append({"date": day, "invoices": [], "scenario": None, "step": None,
                                 "channel": None, "template": None, "amount": None,
                                 "currency": None} | change)
                if report.dispatch_ids:
                    rows += _sent(s, min(report.dispatch_ids), day)
            day += dt.timedelta(days=1)
        sim.engine.dispose()
    if names is not None:
        rows = [r for r in rows if r["customer"] in names]
    return rows


def _keep_promises(sim: Workspace, day: dt.date) -> None:
    """`assume_paid`: the invoices of a promise due yesterday are paid (it is kept)."""
    from hub.plan.cases import owed_invoices

    with session(sim.engine, immediate=True) as s:
        for c in s.execute(select(CaseState).where(
                CaseState.closed_at.is_(None), CaseState.kind == "promise",
                CaseState.until == day - dt.timedelta(days=1))).scalars().all():
            ids = [i.id for i in owed_invoices(s, c)]
            s.execute(update(Invoice).where(Invoice.id.in_(ids)).values(status="paid",
                                                                        amount_due=0))


def _sent(s, first: int, day: dt.date) -> list[dict[str, Any]]:
    """The day's dispatches (every id from `first` on: the copy only plans) as rows, each
    then counted as sent that day."""
    numbers: dict[int, list[str]] = {}
    d, di, inv = Dispatch.__table__.c, DispatchInvoice.__table__.c, Invoice.__table__.c
    for did, number in s.execute(select(di.dispatch_id, inv.number).join(
            Invoice.__table__, inv.id == di.invoice_id).where(di.dispatch_id >= first)
            .order_by(di.dispatch_id, inv.due_date)).all():
        numbers.setdefault(did, []).append(number)
    out: list[dict[str, Any]] = []
    cust = Customer.__table__.c
    for did, scenario, step, channel, template, why_held, amount, currency, name in s.execute(
            select(d.id, d.scenario, d.step, d.channel, d.template, d.approval_reason,
                   d.amount, d.currency, cust.name)
            .join(Customer.__table__, cust.id == d.customer_id)
            .where(d.id >= first).order_by(d.id)).all():
        why = f"step {step} of {scenario}" if scenario != "payment_plan" else \
            "payment-plan instalment ahead"
        if why_held:
            why += f"; waits for approval ({why_held}): assumed approved"
        one = amount is not None and currency != "MIXED"  # (else no single amount to show)
        out.append({"date": day, "customer": name, "invoices": numbers.get(did, []),
                    "scenario": scenario, "step": step, "channel": channel,
                    "template": template, "why": why,
                    "amount": quantize(amount, currency) if one else None,
                    "currency": currency if one else None})
    outbox.settle_simulated(s, first, dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC))
    return out


def peaks(ws: Workspace, start: dt.date, days: int = 30) -> list[dict[str, Any]]:
    """Reminders per day ahead (simulated), each day flagged when it is a peak: more than
    twice the median busy day, and at least five."""
    import statistics

    counts: dict[dt.date, int] = {start + dt.timedelta(days=i): 0 for i in range(days)}
    for r in simulate(ws, start, start + dt.timedelta(days=days - 1)):
        if r["step"]:
            counts[r["date"]] += 1
    busy = [n for n in counts.values() if n]
    median = statistics.median(busy) if busy else 0
    return [{"date": day, "reminders": n, "peak": n >= 5 and n > 2 * median}
            for day, n in counts.items()]
