"""Days sales outstanding per currency and month, by the countback or the simple method.

The receivable at a past month end is rebuilt from what the store knows: an invoice issued
by then and not yet paid then counts for what was still owed — today's amount due plus the
payments recorded after that month (or, once paid, its total less the payments before).
An invoice closed with no payment date (gone from a complete export) is left out, as are
credit notes: this is gross DSO, as the methods define it. Months are calendar months of
the dates as stored (payment instants in UTC).

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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, type_coerce

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


def _ym(col):
    """SQL: year * 100 + month of a date or timestamp column."""
    return func.extract("year", col) * 100 + func.extract("month", col)


@dataclass
class Books:
    """The invoices summed by currency, month issued, month paid (0: not paid) and open or
    not, with the payments by the month they were made: enough for the receivable at every
    month end, from one pass over the invoices and one over the payments."""

    invoices: list[tuple[str, int, int, bool, Decimal, Decimal]]  # …, amount due, total
    payments: list[tuple[str, int, int, bool, int, Decimal]]  # …, month of the payment
    sales: dict[str, dict[tuple[int, int], Decimal]]

    def receivable(self, end: dt.date) -> dict[str, Decimal]:
        k = end.year * 100 + end.month
        out: dict[str, Decimal] = defaultdict(Decimal)
        for cur, issued, paid, is_open, due, total in self.invoices:
            if issued > k:
                continue
            if is_open:
                out[cur] += due
            elif paid and paid > k:
                out[cur] += total
        for cur, issued, paid, is_open, when, amount in self.payments:
            if issued > k:
                continue
            if is_open and when > k:  # paid since: it was still owed then
                out[cur] += amount
            elif not is_open and paid and paid > k and when <= k:  # paid down by then
                out[cur] -= amount
        return dict(out)


def books(s, today: dt.date) -> Books:
    inv, pay = Invoice.__table__.c, Payment.__table__.c
    issued = func.coalesce(inv.issue_date, inv.due_date)
    keys = (inv.currency, _ym(issued).label("i"),
            func.coalesce(_ym(inv.paid_at), 0).label("p"), (inv.status == "open").label("o"))
    live = and_(inv.kind == "invoice", inv.status != "void", issued <= today,
                or_(inv.status == "open", inv.paid_at.is_not(None)))
    rows = s.execute(select(*keys, type_coerce(func.sum(inv.amount_due), Money()),
                            type_coerce(func.sum(inv.total), Money()))
                     .where(live).group_by(*keys)).all()
    paid = s.execute(select(*keys, _ym(pay.date).label("w"),
                            type_coerce(func.sum(pay.amount), Money()))
                     .select_from(Payment.__table__.join(Invoice.__table__, and_(
                         pay.connection_id == inv.connection_id,
                         pay.invoice_external_id == inv.external_id)))
                     .where(live, pay.void.is_(False)).group_by(*keys, "w")).all()
    sales: dict[str, dict[tuple[int, int], Decimal]] = defaultdict(dict)
    for cur, i, _p, _o, _due, total in rows:
        key = (int(i) // 100, int(i) % 100)
        sales[cur][key] = sales[cur].get(key, ZERO) + Decimal(total)
    return Books([(c, int(i), int(p), bool(o), Decimal(d), Decimal(t)) for c, i, p, o, d, t in rows],
                 [(c, int(i), int(p), bool(o), int(w), Decimal(a)) for c, i, p, o, w, a in paid],
                 sales)


def receivable_at(s, day: dt.date) -> dict[str, Decimal]:
    """What was owed at the end of `day`'s month (or `day`, in the current one)."""
    return books(s, day).receivable(day)


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
    with session(ws.engine) as s:
        book = books(s, today)
    rows = []
    for end in month_ends(today, months):
        for cur, owed in sorted(book.receivable(end).items()):
            by_month = book.sales.get(cur, {})
            figure, capped = (countback(owed, by_month, end) if method == "countback"
                              else simple(owed, by_month, end, period))
            rows.append({"month": f"{end:%Y-%m}", "as_of": end, "currency": cur,
                         "method": method, "receivable": owed,
                         "sales": by_month.get((end.year, end.month), ZERO),
                         "dso_days": None if figure is None else
                         Decimal(figure).quantize(Decimal("0.1")), "capped": capped})
    return rows
