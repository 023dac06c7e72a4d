"""Which step is due today: set-based SQL that turns open invoices into dispatches.

Per scenario, one INSERT…SELECT computes for every eligible invoice the step to send
(a CASE over the steps' cutoff dates and `when:` conditions, minus the steps already
planned for it), one INSERT…SELECT groups those into dispatches (per invoice, or per
customer when the scenario consolidates), one links invoices to dispatches under the
unique (invoice, scenario, step) constraint. Planning twice creates nothing new.

Catch-up after downtime (`catch_up:`): `latest` plans only the latest due step not yet
sent; `all` plans the earliest missed step, one per cycle; `none` plans a step only if
its date is within `catch_up_window` days of today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from hub.clock import today_in, utcnow
from hub.config import ScenarioConfig
from hub.config.conditions import to_sql
from hub.plan.accounts import ACCOUNT, build_accounts, drop_covered
from hub.plan.agenda import DUE, consume, gather, look_again_if_stale
from hub.plan.approvals import approval_reason
from hub.plan.calendars import Cutoffs, cutoffs
from hub.plan.cases import KINDS, disputed_part, drop_blocked, open_states
from hub.plan.incremental import advance, stopped_by
from hub.plan.layout import remap_step_indexes
from hub.plan.scenarios import Step, steps_of
from hub.plan.settle import plan_instalment_reminders, settle_cases
from hub.plan.standing import resumed
from hub.store.db import installation_id, session
from hub.store.models import (
    CaseState,
    Customer,
    Dispatch,
    DispatchInvoice,
    Event,
    Invoice,
)
from hub.store.money import Money
from hub.store.records import dialect_insert
from hub.workspace import Workspace

PLANNER_LOCK = 0x72656C616E6365  # "relance"
_tmp = MetaData()
CANDIDATE = Table(
    "plan_candidate", _tmp,
    Column("invoice_id", Integer, primary_key=True),
    Column("customer_id", Integer, index=True),  # one voice: the customer's top step
    Column("step_index", Integer),
    Column("invoice_step", Integer),  # its own due step (step_index: the customer's, one voice)
    Column("grp", Integer),
    Column("currency", String),
    Column("amount_due", Money()),
    prefixes=["TEMPORARY"],
)
STEP = Table(
    "plan_step", _tmp,
    Column("step_index", Integer, primary_key=True),
    Column("step", String), Column("channel", String), Column("template", String),
    Column("cutoff", Date),
    prefixes=["TEMPORARY"],
)


@dataclass
class PlanReport:
    today: dt.date
    created: int = 0
    linked: int = 0
    by_step: dict[tuple[str, str, str], int] = field(default_factory=dict)
    dispatch_ids: list[int] = field(default_factory=list)
    dry_run: bool = False
    preview: Any = None
    suppressed: int = 0  # accounts left out: credits cover them, or below min_amount
    cases: bool = True  # some case state is open (else the planner skips the probe)
    diff: dict[str, int] = field(default_factory=dict)  # a preview's changes since the last run
    settled: int = 0  # promises and payment plans judged kept or broken today
    incremental: bool = True  # read only the invoices whose day has come (plan_agenda)
    audit: bool = True  # write the planned and suppressed events (a simulation does not)
    closed: list[str] = field(default_factory=list)  # scenarios whose debtors are all closed


def invoice_columns() -> dict:
    inv, cust = Invoice.__table__.c, Customer.__table__.c
    return {"amount_due": inv.amount_due, "total": inv.total, "currency": inv.currency,
            "due_date": inv.due_date, "kind": inv.kind, "segment": cust.segment,
            "tags": cust.tags, "country": cust.country, "language": cust.language,
            "customer_code": cust.code, "customer_name": cust.name}


def _assignment(ws: Workspace, today: dt.date):
    cols = invoice_columns()
    whens = [(to_sql(r.when, "customer", cols, today) if r.when else literal(True), r.scenario)
             for r in ws.config.assign]
    return case(*whens, else_=None) if whens else literal(None)


def scenario_of(s: Session, ws: Workspace, customer_id: int, today: dt.date) -> str | None:
    """The scenario the `assign` rules give this customer today (before any plan ran)."""
    return s.execute(select(_assignment(ws, today)).where(
        Customer.__table__.c.id == customer_id)).scalar_one_or_none()


def assign_scenarios(s: Session, ws: Workspace, today: dt.date) -> None:
    """One UPDATE maps every customer to the first `assign` rule that matches (writing
    only the rows whose scenario changes: an unchanged page is not written again)."""
    target = _assignment(ws, today)
    c = Customer.__table__.c
    s.execute(Customer.__table__.update().where(c.scenario.is_distinct_from(target))
              .values(scenario=target))


def eligible(sc: ScenarioConfig, today: dt.date):
    """Invariants first (open, owed, undisputed, not on hold), then the scenario's stops
    (the open case states are taken out of the candidates after the scan)."""
    inv = Invoice.__table__.c
    flags, (promised, _) = stopped_by(sc, today)
    return and_(inv.status == "open", inv.kind == "invoice", inv.amount_due > Decimal(0),
                *[~f for f in flags], ~promised)


def _due_index(sc: ScenarioConfig, steps: list[Step], cuts: Cutoffs, today):
    """CASE over the steps. Earned escalation (the default): the next applicable step after
    the last one planned, once `min_gap` days have passed since it — a first contact is
    never a later step, and a step before the due date only goes out before it. `latest`:
    the latest due step at once (earliest first for `catch_up: all`)."""
    inv, due, cols = Invoice.__table__.c, DUE.c, invoice_columns()
    earned = sc.escalation == "earned"
    ordered = steps if sc.catch_up == "all" or earned else list(reversed(steps))
    rested = or_(due.level < 0, due.planned_on.is_(None),
                 due.planned_on <= today - dt.timedelta(days=sc.min_gap))
    whens = []
    for st in ordered:
        # a step to send at once (a broken promise): in this scenario, on an open day
        resume = and_(due.resume_at == st.index, cuts.due[st.index] > literal(dt.date.min))
        cond = [or_(inv.due_date <= cuts.due[st.index], resume), due.level < st.index]
        if earned:
            cond.append(rested)
            if st.offset.days < 0:  # a courtesy before the due date, never after it
                cond.append(inv.due_date >= today)
        if sc.catch_up == "none":
            cond.append(inv.due_date >= cuts.low[st.index])
        if st.config.when:
            cond.append(to_sql(st.config.when, "invoice", cols, today))
        whens.append((and_(*cond), st.index))
    # `could`: a necessary condition over raw invoice columns — some step is left and, when
    # earned, the gap since the last one has passed. Cheap, and selective on the daily run
    # (most invoices had a step recently), so few rows pay for the CASE and the customer join.
    could = due.level < steps[-1].index
    if earned:
        could = and_(could, rested)
    return case(*whens, else_=None), could


def plan_scenario(s: Session, ws: Workspace, name: str, sc: ScenarioConfig, today: dt.date,
                  report: PlanReport) -> bool:
    """Plan one scenario; False when it could not today (no steps, a closed day)."""
    steps = steps_of(sc)
    if not steps:
        return False
    cuts = cutoffs(s, ws.config.company, name, sc, steps, today)  # per debtor calendar
    if cuts.none_today:  # a closed day for every debtor of the scenario
        report.closed.append(name)
        return False
    s.execute(STEP.delete())
    s.execute(CANDIDATE.delete())
    s.execute(insert(STEP), [{"step_index": st.index, "step": st.key, "channel": st.config.channel,
                              "template": st.config.template, "cutoff": cuts.company[st.index]}
                             for st in steps])
    inv, cust = Invoice.__table__.c, Customer.__table__.c
    # the invoices read today (`gather`) in this scenario, with where each stands in it
    joined = DUE.join(Invoice.__table__, inv.id == DUE.c.invoice_id).join(
        Customer.__table__, cust.id == inv.customer_id)
    due_index, could = _due_index(sc, steps, cuts, today)
    idx = due_index.label("idx")
    asked, rules = inv.amount_due, [inv.due_date <= cuts.latest, could, eligible(sc, today),
                                    DUE.c.scenario == name]
    if sc.remind_undisputed and report.cases:  # only the undisputed rest is asked for
        asked = inv.amount_due - disputed_part(today)
        rules.append(asked > literal(Decimal(0), Money()))
    inner = (
        select(inv.id, inv.customer_id, inv.currency, asked.label("amount_due"), idx)
        .select_from(joined)
        .where(*rules)
        .subquery(f"due_{name}")
    )
    # Dispatch ids are assigned here (dense rank per group) so invoices link without a join.
    # (`+ 0` keeps SQLite from walking invoices in customer_id index order to save a sort:
    # random reads over the whole table cost far more than sorting the due rows.)
    order = ((inner.c.customer_id + 0,) if sc.one_voice else
             (inner.c.customer_id + 0, inner.c.idx) if sc.consolidate == "per_customer"
             else (inner.c.id + 0,))
    grp = func.dense_rank().over(order_by=order)
    # one voice: one message per customer today, at the most advanced step due among their
    # invoices (a window over the same sort as the rank, not a second pass)
    step = func.max(inner.c.idx).over(partition_by=inner.c.customer_id + 0) if sc.one_voice \
        else inner.c.idx
    s.execute(insert(CANDIDATE).from_select(
        ["invoice_id", "customer_id", "step_index", "invoice_step", "grp", "currency",
         "amount_due"],
        select(inner.c.id, inner.c.customer_id, step, inner.c.idx, grp, inner.c.currency,
               inner.c.amount_due).where(inner.c.idx.is_not(None))))
    held = drop_blocked(s, CANDIDATE, today, sc.stop_when, sc.remind_undisputed,
                        report.audit) if report.cases else set()
    left_out = drop_covered(s, CANDIDATE, ws.config.dispatch.min_amount, today, report.audit)
    report.suppressed += len(left_out)
    if sc.one_voice and (left_out or held):  # their top step may have left with an invoice
        c2, c = CANDIDATE.alias("c2"), CANDIDATE.c
        s.execute(CANDIDATE.update().where(c.customer_id.in_(list(left_out | held))).values(
            step_index=select(func.max(c2.c.invoice_step)).where(
                c2.c.customer_id == c.customer_id).scalar_subquery()))
    _materialise(s, ws, name, sc, today, report)
    if report.incremental:
        advance(s, name, sc, steps, today, cuts.calendars, invoice_columns(), report.cases)
    return True


def _materialise(s: Session, ws: Workspace, name: str, sc: ScenarioConfig, today: dt.date,
                 report: PlanReport) -> None:
    c, st, d = CANDIDATE.c, STEP.c, Dispatch.__table__
    now = utcnow()
    ts = literal(now, type_=d.c.created_at.type)
    base = s.execute(select(func.coalesce(func.max(d.c.id), 0))).scalar_one()
    one_currency = func.min(c.currency) == func.max(c.currency)
    joined = CANDIDATE.join(STEP, st.step_index == c.step_index)
    asked = func.sum(c.amount_due)
    if sc.one_voice:  # one dispatch per customer and day: it nets the customer's credits once
        a = ACCOUNT.c
        joined = joined.outerjoin(ACCOUNT, and_(a.customer_id == c.customer_id,
                                                a.currency == c.currency))
        asked = asked - func.coalesce(func.max(a.credit), literal(Decimal(0), Money()))
    # unique per run (a step released unsent and owed again gets a new key), and the run
    # first: a day's keys are appended to their index, not scattered over its pages
    who = (literal(":c") + cast(func.min(c.customer_id), String)
           if sc.consolidate == "per_customer" or sc.one_voice
           else literal(":i") + cast(func.min(c.invoice_id), String))
    key = literal(f"{today.isoformat()}:{base}:{name}:") + func.min(st.step) + who
    g = (
        select((literal(base) + c.grp).label("id"),
               (literal(f"rl-{installation_id(s)}:") + key).label("key"),
               func.min(c.customer_id).label("customer_id"), func.min(st.step).label("step"),
               func.min(c.step_index).label("step_index"), func.min(st.channel).label("channel"),
               func.min(st.template).label("template"),
               case((one_currency, func.min(c.currency)), else_=literal("MIXED")).label("currency"),
               case((one_currency, asked), else_=None).label("amount"),
               func.count().label("n"))
        .select_from(joined)
        .group_by(c.grp)
    ).subquery("grouped")
    why = approval_reason(ws, name, sc, g)  # over the grouped rows: plain columns, no aggregate
    grouped = select(g.c.id, g.c.key, g.c.customer_id, literal(name), g.c.step, g.c.step_index,
                     g.c.channel, g.c.template, case((why.is_(None), "approved"), else_="planned"),
                     why, literal(today), g.c.currency, g.c.amount, g.c.n, literal(0), ts, ts)
    cols = ["id", "idempotency_key", "customer_id", "scenario", "step", "step_index",
            "channel", "template", "status", "approval_reason", "planned_on", "currency", "amount",
            "invoice_count", "attempts", "created_at", "updated_at"]
    s.execute(insert(d).from_select(cols, grouped))
    link = (select(literal(base) + c.grp, c.invoice_id, literal(name), st.step, c.step_index)
            .select_from(CANDIDATE.join(STEP, st.step_index == c.step_index))
            .order_by(c.invoice_id))  # appends in primary-key order
    _insert_ignore(s, DispatchInvoice.__table__,
                   ["dispatch_id", "invoice_id", "scenario", "step", "step_index"], link,
                   ["invoice_id", "scenario", "step"])
    # where they stand now, for the agenda's next day (`advance`)
    due, planned = DUE.c, select(c.invoice_id)
    s.execute(DUE.update().where(due.invoice_id.in_(planned)).values(
        level=select(c.step_index).where(c.invoice_id == due.invoice_id).scalar_subquery(),
        planned_on=today, resume_at=None))
    resumed(s, planned)
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT setval(pg_get_serial_sequence('dispatch', 'id'), "
                       "(SELECT COALESCE(MAX(id), 1) FROM dispatch))"))
    for row in s.execute(select(d.c.step, d.c.channel, func.count()).where(d.c.id > base)
                         .group_by(d.c.step, d.c.channel)):
        report.by_step[(name, row[0], row[1])] = row[2]
    message = (literal("planned ") + d.c.scenario + literal(" step ") + d.c.step
               + literal(" via ") + d.c.channel + literal(" for ")
               + cast(d.c.invoice_count, String) + literal(" invoice(s)"))
    if report.audit:
        s.execute(insert(Event.__table__).from_select(
            ["at", "kind", "level", "customer_id", "dispatch_id", "message", "data"],
            select(ts, literal("planned"), literal("info"), d.c.customer_id, d.c.id, message,
                   literal({}, type_=JSON)).where(d.c.id > base)))
    new_ids = s.execute(select(d.c.id).where(d.c.id > base).order_by(d.c.id)).scalars().all()
    report.dispatch_ids += new_ids
    report.created += len(new_ids)
    report.linked += s.execute(select(func.count()).select_from(CANDIDATE)).scalar_one()


def _insert_ignore(s: Session, table, cols, select_stmt, conflict):
    stmt = dialect_insert(s, table).from_select(cols, select_stmt).on_conflict_do_nothing(
        index_elements=conflict)
    return s.execute(stmt)


def _prepare(s: Session) -> None:
    if s.get_bind().dialect.name == "postgresql":
        # one planner at a time across every host (released at commit)
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PLANNER_LOCK})
    CANDIDATE.create(s.connection(), checkfirst=True)
    STEP.create(s.connection(), checkfirst=True)


def plan(ws: Workspace, *, today: dt.date | None = None, dry_run: bool = False,
         scenarios: list[str] | None = None, incremental: bool = True, audit: bool = True,
         inspect: Callable[[Session, list[int]], Any] | None = None) -> PlanReport:
    """Create today's dispatches (or, with `dry_run`, compute and roll them back).

    `inspect(session, new dispatch ids)` runs before the commit or the rollback, and its
    result is `report.preview` (the send stage renders a dry run's dispatches with it).
    `incremental=False` reads every open invoice (what the incremental read must equal:
    `hub.plan.incremental`); `audit=False` writes no events (a throwaway copy's)."""
    today = today or today_in(ws.config.company.timezone)
    report = PlanReport(today=today, dry_run=dry_run, incremental=incremental, audit=audit)
    with session(ws.engine, immediate=True) as s:
        _prepare(s)
        if incremental:  # (before the plan's own changes, which the triggers note)
            look_again_if_stale(s, ws, today)
        assign_scenarios(s, ws, today)
        report.settled = settle_cases(s, ws.config, today)  # promises and plans judged
        build_accounts(s, today, ws.config.dispatch.min_amount)
        report.cases = s.execute(select(exists(select(CaseState.id).where(
            open_states(today, list(KINDS)))))).scalar_one()
        for name, sc in ws.config.scenarios.items():  # (before where invoices stand is read)
            if steps := steps_of(sc):
                remap_step_indexes(s, name, steps)
        read: list[str] = []
        gather(s, today, everything=not incremental)
        for name, sc in ws.config.scenarios.items():
            if scenarios and name not in scenarios:
                continue
            if plan_scenario(s, ws, name, sc, today, report):
                read.append(name)
        if incremental:
            consume(s, today, read, [n for n, sc in ws.config.scenarios.items() if steps_of(sc)])
        for scratch in (CANDIDATE, STEP, DUE):  # (a pooled connection keeps its temp tables)
            s.execute(scratch.delete())
        reminders = plan_instalment_reminders(s, ws.config, today, installation_id(s))
        report.dispatch_ids += reminders
        report.created += len(reminders)
        if inspect is not None:
            report.preview = inspect(s, report.dispatch_ids)
        if dry_run:
            s.rollback()
    return report
