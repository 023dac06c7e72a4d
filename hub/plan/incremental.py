"""Incremental planning: the next day each invoice a plan read is to be read again.

After each scenario's plan, every invoice it read gets its next day in `plan_agenda`
(`hub.plan.agenda`): a lower bound of the next day its step CASE can hold, computed from
the same steps, offsets and `when:` conditions, and not before the day it can be free of
what holds it (a case state's end, a promise's date; a flag only its row's change lifts,
and that change's trigger adds "now"). Being a lower bound, it can only make an invoice
be read early (and get a later day), never missed: the rows a plan takes are exactly
those a full read would take.
"""

from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import (
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from hub.config import ScenarioConfig
from hub.config.conditions import fields_of, to_sql
from hub.config.offsets import Offset
from hub.plan.agenda import AT_ONCE, DUE, NEVER, add, add_days, later_of
from hub.plan.cases import blocking
from hub.plan.scenarios import BusinessCalendar, Step, step_date
from hub.store.models import CaseState, Customer, Invoice


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
    """SQL over the invoice and customer columns and the invoice's standing in scenario
    `name` (`DUE`): the earliest day after `today` a step of it can be due for the invoice."""
    inv, due = Invoice.__table__.c, DUE.c
    level = due.level
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
        gap = case((due.level >= 0, add_days(due.planned_on, sc.min_gap)),  # as `rested`
                   else_=None)
        day = later_of(day, func.coalesce(gap, literal(AT_ONCE)))
    gone = or_(inv.status != "open", inv.kind != "invoice", inv.amount_due <= 0)
    resumes = due.resume_at.is_not(None)
    return case((gone, literal(NEVER)), (resumes, literal(today + dt.timedelta(days=1))),
                else_=func.coalesce(later_of(day, literal(today + dt.timedelta(days=1))),
                                    literal(NEVER)))  # past year 9999: never


def stopped_by(sc: ScenarioConfig, today: dt.date):
    """What keeps an open invoice from any step, over its own and its customer's columns:
    flags only a change of the row lifts (its trigger then adds "now"), and a promise that
    ends on a date (with that date)."""
    inv, cust = Invoice.__table__.c, Customer.__table__.c
    flags = [inv.disputed == true(), cust.on_hold == true(), inv.hub_paid_at.is_not(None)]
    if "on_payment_plan" in sc.stop_when:
        flags.append(inv.on_payment_plan == true())
    if "in_collection" in sc.stop_when:
        flags.append(inv.in_collection == true())
    promised = (and_(inv.promised_until.is_not(None), inv.promised_until >= today)
                if "promised" in sc.stop_when else false())
    return flags, (promised, add_days(inv.promised_until, 1))


def _waits(sc: ScenarioConfig, today: dt.date, cases: bool):
    """The first day an invoice kept from its steps today can be free: never by itself
    (a flag: the row's change adds "now"), the day after a promise or the earliest case
    state holding it ends (one closed early: its trigger adds "now"); else no wait."""
    inv, c = Invoice.__table__.c, CaseState.__table__.c
    flags, (promised, after_promise) = stopped_by(sc, today)
    waits = case((or_(*flags), literal(NEVER)), (promised, after_promise),
                 else_=literal(AT_ONCE))
    if not cases:
        return waits
    ends = select(func.min(func.coalesce(add_days(c.until, 1), literal(NEVER)))).where(
        blocking(today, sc.stop_when, sc.remind_undisputed),
        or_(c.invoice_id == inv.id, c.customer_id == inv.customer_id)).scalar_subquery()
    return later_of(waits, func.coalesce(ends, literal(AT_ONCE)))  # (each probed once)


def advance(s: Session, name: str, sc: ScenarioConfig, steps: list[Step], today: dt.date,
            calendars: list[BusinessCalendar], columns: dict, cases: bool = True) -> None:
    """After the day's plan of scenario `name`: each invoice it read gets its next day
    (those planned from their new step, the others from where they still stand, those
    held not before they can be free; none for an invoice no step can come to)."""
    inv, due = Invoice.__table__.c, DUE.c
    planned = due.planned_on == today  # nothing held it today
    day = later_of(next_possible(name, sc, steps, today, calendars, columns),
                   case((planned, literal(AT_ONCE)), else_=_waits(sc, today, cases))
                   ).label("day")
    found = select(day, inv.id.label("invoice_id")).select_from(
        DUE.join(Invoice.__table__, inv.id == due.invoice_id)
        .join(Customer.__table__, Customer.__table__.c.id == inv.customer_id)).where(
        due.scenario == name).offset(0).subquery("found")  # (OFFSET: SQLite computes the
    # day once per row, not again for the filter)
    add(s, select(found.c.day, found.c.invoice_id).where(found.c.day < NEVER))


