"""Incremental planning: each invoice's `dunning.next_on`, the earliest day a step can next
be due for it, so a day's plan reads only the invoices whose day has come.

The daily plan of a live store reads every open invoice (a sync, a case closed or a
config change may alter any of them, and a full read needs no invalidation to be right).
A store that only the planner changes — the simulator's throwaway copy, where nothing is
synced — can plan incrementally: after the day's plan, every invoice it looked at gets a
new `next_on`, a lower bound of the next day its step CASE can hold, computed from the
same steps, offsets and `when:` conditions. Being a lower bound, it can only make an
invoice be looked at early (and get a later bound), never missed: the rows a plan takes
are exactly those a full read would take.
"""

from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import Date, and_, case, func, insert, literal, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import GenericFunction

from hub.config import ScenarioConfig
from hub.config.conditions import fields_of, to_sql
from hub.config.offsets import Offset
from hub.plan.scenarios import BusinessCalendar, Step, step_date
from hub.store.models import Customer, Dunning, Invoice

NEVER = dt.date(9999, 12, 31)  # no step can come: paid, left, or every step planned
AT_ONCE = dt.date.min  # a step to send now (a broken promise resumes)


class add_days(GenericFunction):  # a SQL function, named as one
    """`date + n days`, in each dialect's spelling."""

    type = Date()
    inherit_cache = True


@compiles(add_days, "sqlite")
def _add_days_sqlite(element, compiler, **kw):
    day, n = list(element.clauses)
    return f"date({compiler.process(day, **kw)}, ({compiler.process(n, **kw)}) || ' days')"


@compiles(add_days)
def _add_days_default(element, compiler, **kw):
    day, n = list(element.clauses)
    return f"({compiler.process(day, **kw)} + CAST({compiler.process(n, **kw)} AS INTEGER))"


class later_of(GenericFunction):
    """The later of two dates (SQLite's scalar max, PostgreSQL's greatest)."""

    type = Date()
    inherit_cache = True


@compiles(later_of, "sqlite")
def _later_sqlite(element, compiler, **kw):
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(later_of)
def _later_default(element, compiler, **kw):
    return f"greatest({compiler.process(element.clauses, **kw)})"


@functools.lru_cache(maxsize=1024)
def _fewest_days(offset: Offset, cal: BusinessCalendar, how: str, year: int) -> int:
    """The fewest days after its due date a step falls in this calendar, over every due
    date whose step can fall from November of the year before to the end of the next
    (holidays recur yearly; a long step reaches back over more due dates)."""
    reach = 7 * abs(offset.days) + 60
    first = dt.date(year - 1, 11, 1) - dt.timedelta(days=reach)
    return min((step_date(due, offset, cal, how) - due).days
               for due in (first + dt.timedelta(days=n) for n in range(800 + reach)))


def earliest_offset(st: Step, sc: ScenarioConfig, calendars: list[BusinessCalendar],
                    today: dt.date) -> int:
    """Days after the due date before which the step cannot fall, for any debtor."""
    if not st.offset.business and sc.closed_days != "previous":
        return st.offset.days  # shifting forward, or not at all, never makes it earlier
    return min(_fewest_days(st.offset, cal, sc.closed_days, year) for cal in calendars
               for year in (today.year - 1, today.year))  # a year's holidays are not the next's


def next_possible(name: str, sc: ScenarioConfig, steps: list[Step], today: dt.date,
                  calendars: list[BusinessCalendar], columns: dict):
    """SQL over the invoice, customer and dunning columns: the earliest day after `today`
    a step of scenario `name` can be due for the invoice, given where it stands now."""
    inv, dn = Invoice.__table__.c, Dunning.__table__.c
    level = case((dn.scenario == name, dn.level), else_=-1)
    whens = []
    earliest = {st.index: earliest_offset(st, sc, calendars, today) for st in steps}
    # by the earliest day each can fall (business and calendar days mix: due+15bd is never
    # before day 19, due+18d is day 18), so the first step that applies is the earliest
    for st in sorted(steps, key=lambda st: earliest[st.index]):
        cond = [level < st.index]
        if sc.escalation == "earned" and st.offset.days < 0:
            cond.append(inv.due_date > today)  # a courtesy before the due date, never after
        if st.config.when and "days_overdue" not in fields_of(st.config.when):
            cond.append(to_sql(st.config.when, "invoice", columns, today))  # fixed in time
        whens.append((and_(*cond), add_days(inv.due_date, earliest[st.index])))
    day = case(*whens, else_=literal(NEVER))
    if sc.escalation == "earned":  # not before `min_gap` days after its last step here
        gap = case((and_(dn.scenario == name, dn.level >= 0),  # as the planner's `rested`
                    add_days(dn.planned_on, sc.min_gap)), else_=None)
        day = later_of(day, func.coalesce(gap, literal(AT_ONCE)))
    gone = or_(inv.status != "open", inv.kind != "invoice", inv.amount_due <= 0)
    resumes = and_(dn.resume_at.is_not(None), dn.scenario == name)
    return case((gone, literal(NEVER)), (resumes, literal(AT_ONCE)),
                else_=func.coalesce(later_of(day, literal(today + dt.timedelta(days=1))),
                                    literal(NEVER)))  # past year 9999: never


def advance(s: Session, name: str, sc: ScenarioConfig, steps: list[Step], today: dt.date,
            calendars: list[BusinessCalendar], columns: dict) -> None:
    """After the day's plan of scenario `name`: each invoice it looked at gets its next day
    (those planned from their new step, the others from where they still stand)."""
    inv, cust, dn = Invoice.__table__.c, Customer.__table__.c, Dunning.__table__
    s.execute(dn.update().where(dn.c.invoice_id == inv.id, cust.id == inv.customer_id,
                                func.coalesce(cust.scenario, "") == name,  # next_on leads
                                dn.c.next_on <= today)
              .values(next_on=next_possible(name, sc, steps, today, calendars, columns)))


def start(s: Session) -> None:
    """Make a store plan incrementally: a dunning row for every invoice that could be
    reminded, each looked at on the first day planned (which gives it its `next_on`), and
    the index the daily read goes through. For a store only the planner changes."""
    inv, cust, dn = Invoice.__table__.c, Customer.__table__.c, Dunning.__table__
    s.execute(text("CREATE INDEX IF NOT EXISTS ix_dunning_next_on ON dunning (next_on)"))
    missing = select(inv.id, func.coalesce(cust.scenario, ""), literal(-1)).select_from(
        Invoice.__table__.join(Customer.__table__, cust.id == inv.customer_id)
        .outerjoin(dn, dn.c.invoice_id == inv.id)).where(
        dn.c.invoice_id.is_(None), inv.status == "open", inv.kind == "invoice",
        inv.amount_due > 0)
    s.execute(insert(dn).from_select(["invoice_id", "scenario", "level"], missing))
    s.execute(dn.update().values(next_on=AT_ONCE))
