"""Days sales outstanding per currency and month, by the countback or the simple method.

The receivable at a past day is rebuilt from what the store knows: an invoice issued by
then and not yet paid then counts for what was still owed — today's amount due plus the
payments recorded after that day (or, once paid, its total less the payments before).
Credit notes are left out: this is gross DSO, as the methods define it.

- countback: from the month's closing receivable, take off each month's sales walking
  back (the current month counts its days so far); each month fully used counts its days,
  the last one its share. Stops at 24 months (`capped`).
- simple: the closing receivable over the sales of the last `period` months, times their
  days.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select, type_coerce

from hub.store.db import session
from hub.store.models import Invoice, Payment
from hub.store.money import Money
from hub.workspace import Workspace

ZERO = Decimal(0)
MAX_BACK = 24


def month_ends(today: dt.date, months: int) -> list[dt.date]:
    """The last day of each of the `months` months up to today's (today for the current)."""
    out, y, m = [], today.year, today.month
    for _ in range(months):
        end = dt.date(y, m, calendar.monthrange(y, m)[1])
        out.append(min(end, today))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return list(reversed(out))


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def receivable_at(s, day: dt.date) -> dict[str, Decimal]:
    inv, pay = Invoice.__table__.c, Payment.__table__.c
    issued = func.coalesce(inv.issue_date, inv.due_date) <= day
    unpaid = or_(inv.paid_at.is_(None), inv.paid_at >= _end_of(day))
    paid_after = select(func.coalesce(func.sum(pay.amount), ZERO)).where(
        pay.connection_id == inv.connection_id, pay.invoice_external_id == inv.external_id,
        pay.void.is_(False), pay.date > day).scalar_subquery()
    paid_before = select(func.coalesce(func.sum(pay.amount), ZERO)).where(
        pay.connection_id == inv.connection_id, pay.invoice_external_id == inv.external_id,
        pay.void.is_(False), pay.date <= day).scalar_subquery()
    owed = case((inv.status == "open", inv.amount_due + paid_after), else_=inv.total - paid_before)
    rows = s.execute(select(inv.currency, type_coerce(func.sum(owed), Money())).where(
        inv.kind == "invoice", inv.status != "void", issued, unpaid).group_by(inv.currency))
    return {cur: Decimal(v or 0) for cur, v in rows}


def monthly_sales(s, start: dt.date, end: dt.date) -> dict[str, dict[tuple[int, int], Decimal]]:
    inv = Invoice.__table__.c
    issued = func.coalesce(inv.issue_date, inv.due_date)
    out: dict[str, dict[tuple[int, int], Decimal]] = defaultdict(dict)
    for cur, day, total in s.execute(select(inv.currency, issued, func.sum(inv.total)).where(
            and_(inv.kind == "invoice", inv.status != "void", issued >= start, issued <= end))
            .group_by(inv.currency, issued)):
        key = (day.year, day.month)
        out[cur][key] = out[cur].get(key, ZERO) + Decimal(total)
    return out


def _back(y: int, m: int) -> tuple[int, int]:
    return (y, m - 1) if m > 1 else (y - 1, 12)


def countback(receivable: Decimal, sales: dict[tuple[int, int], Decimal],
              end: dt.date) -> tuple[Decimal, bool]:
    """(days, capped) for the receivable at `end` against the months' sales before it."""
    days, (y, m) = ZERO, (end.year, end.month)
    for i in range(MAX_BACK):
        length = end.day if i == 0 else calendar.monthrange(y, m)[1]
        sold = sales.get((y, m), ZERO)
        if receivable <= sold:
            return days + (receivable / sold * length if sold else ZERO), False
        receivable -= sold
        days += length
        y, m = _back(y, m)
    return days, True


def simple(receivable: Decimal, sales: dict[tuple[int, int], Decimal], end: dt.date,
           period: int = 3) -> tuple[Decimal | None, bool]:
    days, sold, (y, m) = 0, ZERO, (end.year, end.month)
    for i in range(period):
        days += end.day if i == 0 else calendar.monthrange(y, m)[1]
        sold += sales.get((y, m), ZERO)
        y, m = _back(y, m)
    if not sold:
        return None, True
    return receivable / sold * days, False


def dso_trend(ws: Workspace, today: dt.date, *, months: int = 12, method: str = "countback",
              period: int = 3) -> list[dict[str, Any]]:
    """One row per month end and currency: the receivable, the month's sales, the DSO."""
    if method not in ("countback", "simple"):
        raise ValueError(f"method {method!r}: countback or simple")
    ends = month_ends(today, months)
    first = ends[0].replace(day=1)
    back = first
    for _ in range(MAX_BACK if method == "countback" else period):
        back = (back - dt.timedelta(days=1)).replace(day=1)
    rows = []
    with session(ws.engine) as s:
        sales = monthly_sales(s, back, today)
        for end in ends:
            for cur, owed in sorted(receivable_at(s, end).items()):
                by_month = sales.get(cur, {})
                figure, capped = (countback(owed, by_month, end) if method == "countback"
                                  else simple(owed, by_month, end, period))
                rows.append({"month": f"{end:%Y-%m}", "as_of": end, "currency": cur,
                             "method": method, "receivable": owed,
                             "sales": by_month.get((end.year, end.month), ZERO),
                             "dso_days": None if figure is None else
                             Decimal(figure).quantize(Decimal("0.1")), "capped": capped})
    return rows
