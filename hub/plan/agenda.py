"""`plan_agenda`: the days each invoice is to be read on by the daily plan, in day order.

The daily plan reads the invoices whose day has come (`gather`), each scenario's plan
writes the next day it finds for those it read (`hub.plan.incremental.advance`), and the
day's entries go (`consume`). Triggers (migration 0011) add "now" for any change a plan
reads; the planner's own changes call `look_at`; another config, a new release, or a plan
for an earlier day than the last, and every open invoice is read again
(`look_again_if_stale`). An extra entry only costs a read: a day is a lower bound.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import GenericFunction

from hub.plan.standing import fold_resumes, last_planned_on, level_of
from hub.store.models import Customer, Invoice, PlanAgenda, PlanMark
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


DUE = Table(  # the invoices read today, each with its customer's scenario and its standing
    "plan_due", MetaData(),  # there (`hub.plan.standing`), kept as the day's plan advances it
    Column("invoice_id", Integer, primary_key=True),
    Column("scenario", String, index=True),
    Column("level", Integer),
    Column("planned_on", Date),
    Column("resume_at", Integer),
    prefixes=["TEMPORARY"],
)


def gather(s: Session, today: dt.date, everything: bool = False) -> None:
    """The invoices whose day has come (`everything`: every open one), read once for every
    scenario, with where each stands in its scenario."""
    agenda, inv, cust = PlanAgenda.__table__.c, Invoice.__table__.c, Customer.__table__.c
    DUE.create(s.connection(), checkfirst=True)
    s.execute(DUE.delete())
    read = select(inv.id, func.coalesce(cust.scenario, "").label("scenario"))
    if everything:
        read = read.select_from(Invoice.__table__.join(
            Customer.__table__, cust.id == inv.customer_id)).where(inv.status == "open")
    else:
        read = read.distinct().select_from(PlanAgenda.__table__.join(
            Invoice.__table__, inv.id == agenda.invoice_id).join(
            Customer.__table__, cust.id == inv.customer_id)).where(agenda.day <= today)
    read = read.subquery("read")
    s.execute(insert(DUE).from_select(
        ["invoice_id", "scenario", "level", "planned_on", "resume_at"],
        select(read.c.id, read.c.scenario, level_of(read.c.id, read.c.scenario),
               last_planned_on(read.c.id, read.c.scenario), literal(None, Integer))))
    fold_resumes(s, DUE)


def consume(s: Session, today: dt.date, read: list[str], with_steps: list[str]) -> None:
    """The entries up to today of the invoices read by a scenario's plan go, as do those
    of customers who follow no scenario with steps (they wait for a trigger: the customer
    is assigned one, or the config changes). Those of a scenario not planned today (a
    closed day, or not asked for) stay."""
    agenda, due = PlanAgenda.__table__, DUE.c
    done = select(due.invoice_id).where(or_(due.scenario.in_(read),
                                            due.scenario.not_in(with_steps)))
    s.execute(agenda.delete().where(agenda.c.day <= today, agenda.c.invoice_id.in_(done)))


def add(s: Session, rows) -> None:
    """(`rows` with a WHERE: SQLite reads ON CONFLICT after a bare FROM as a join's ON)"""
    stmt = dialect_insert(s, PlanAgenda.__table__).from_select(["day", "invoice_id"], rows)
    s.execute(stmt.on_conflict_do_nothing())


def look_at(s: Session, invoice_ids) -> None:
    """These invoices are read by the next plan (a step let go, a broken promise)."""
    add(s, select(literal(AT_ONCE, Date), Invoice.__table__.c.id).where(
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
        add(s, select(literal(AT_ONCE, Date), inv.id).where(inv.status == "open"))
    if mark is None:
        s.add(PlanMark(id=1, config=digest, day=today))
    else:
        mark.config, mark.day = digest, today if stale else max(mark.day, today)
    return stale
