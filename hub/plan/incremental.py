"""Incremental planning: the daily plan reads only the invoices whose day has come.

`plan_agenda` holds, in day order, the days an invoice is to be read on. After each
scenario's plan, every invoice it read gets its next day: a lower bound of the next day
its step CASE can hold, computed from the same steps, offsets and `when:` conditions.
Being a lower bound, it can only make an invoice be read early (and get a later day),
never missed: the rows a plan takes are exactly those a full read would take.

What a day computed yesterday cannot know — a sync changed the invoice, its customer
moved scenario or went on hold, a case state opened or closed, a new invoice came — the
store says itself: triggers (migration 0011) add "now" for every invoice such a change
touches, so no code path, plugin or hand-written SQL can leave one unread; the planner's
own changes (a step let go, a broken promise) call `look_at`. Another config, or a plan
for an earlier day than the last, and every invoice is read again (`look_again_if_stale`).
An extra entry only costs a read; the day's read consumes the entries up to today.
"""

from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import GenericFunction

from hub.config import ScenarioConfig
from hub.config.conditions import fields_of, to_sql
from hub.config.offsets import Offset
from hub.plan.scenarios import BusinessCalendar, Step, step_date
from hub.store.models import CaseState, Customer, Dunning, Invoice, PlanAgenda, PlanMark
from hub.store.records import dialect_insert

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
    return case((gone, literal(NEVER)), (resumes, literal(today + dt.timedelta(days=1))),
                else_=func.coalesce(later_of(day, literal(today + dt.timedelta(days=1))),
                                    literal(NEVER)))  # past year 9999: never


DUE = Table(  # the invoices read today, each with its customer's scenario
    "plan_due", MetaData(),
    Column("invoice_id", Integer, primary_key=True),
    Column("scenario", String, index=True),
    prefixes=["TEMPORARY"],
)


def gather(s: Session, today: dt.date) -> None:
    """The invoices whose day has come, read once for every scenario."""
    agenda, inv, cust = PlanAgenda.__table__.c, Invoice.__table__.c, Customer.__table__.c
    DUE.create(s.connection(), checkfirst=True)
    s.execute(DUE.delete())
    s.execute(insert(DUE).from_select(["invoice_id", "scenario"], select(
        inv.id, func.coalesce(cust.scenario, "")).distinct().select_from(
        PlanAgenda.__table__.join(Invoice.__table__, inv.id == agenda.invoice_id)
        .join(Customer.__table__, cust.id == inv.customer_id)).where(agenda.day <= today)))


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
    from hub.plan.cases import blocking

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
    inv, dn, due = Invoice.__table__.c, Dunning.__table__.c, DUE.c
    planned = and_(dn.scenario == name, dn.planned_on == today)  # nothing held it today
    day = later_of(next_possible(name, sc, steps, today, calendars, columns),
                   case((planned, literal(AT_ONCE)), else_=_waits(sc, today, cases))
                   ).label("day")
    found = select(day, inv.id.label("invoice_id")).select_from(
        DUE.join(Invoice.__table__, inv.id == due.invoice_id)
        .join(Customer.__table__, Customer.__table__.c.id == inv.customer_id)
        .outerjoin(Dunning.__table__, dn.invoice_id == inv.id)).where(
        due.scenario == name).offset(0).subquery("found")  # (OFFSET: SQLite computes the
    # day once per row, not again for the filter)
    _add(s, select(found.c.day, found.c.invoice_id).where(found.c.day < NEVER))


def consume(s: Session, today: dt.date, read: list[str], with_steps: list[str]) -> None:
    """The entries up to today of the invoices read by a scenario's plan go, as do those
    of customers who follow no scenario with steps (they wait for a trigger: the customer
    is assigned one, or the config changes). Those of a scenario not planned today (a
    closed day, or not asked for) stay."""
    agenda, due = PlanAgenda.__table__, DUE.c
    done = select(due.invoice_id).where(or_(due.scenario.in_(read),
                                            due.scenario.not_in(with_steps)))
    s.execute(agenda.delete().where(agenda.c.day <= today, agenda.c.invoice_id.in_(done)))


def _add(s: Session, rows) -> None:
    """(`rows` with a WHERE: SQLite reads ON CONFLICT after a bare FROM as a join's ON)"""
    stmt = dialect_insert(s, PlanAgenda.__table__).from_select(["day", "invoice_id"], rows)
    s.execute(stmt.on_conflict_do_nothing())


def look_at(s: Session, invoice_ids) -> None:
    """These invoices are read by the next plan (a step let go, a broken promise)."""
    _add(s, select(literal(AT_ONCE, Date), Invoice.__table__.c.id).where(
        Invoice.__table__.c.id.in_(invoice_ids)))


def _config_digest(ws) -> str:
    """The config and the code the stored days were computed under (a new Relance or
    `holidays` release may compute other days)."""
    import hashlib

    import holidays

    from hub import __version__

    text_ = ws.config.model_dump_json() + __version__ + holidays.__version__
    return hashlib.sha256(text_.encode()).hexdigest()


def look_again_if_stale(s: Session, ws, today: dt.date) -> bool:
    """Every open invoice is read again when the config changed since the stored days were
    computed, or when today comes before the last day planned. True when it was."""
    digest, mark = _config_digest(ws), s.get(PlanMark, 1)
    stale = mark is None or mark.config != digest or today < mark.day
    if stale:
        inv = Invoice.__table__.c  # (one reopened is added by its trigger)
        _add(s, select(literal(AT_ONCE, Date), inv.id).where(inv.status == "open"))
    if mark is None:
        s.add(PlanMark(id=1, config=digest, day=today))
    else:
        mark.config, mark.day = digest, today if stale else max(mark.day, today)
    return stale
