"""Case states: one model of "do not remind now", on an invoice or a whole customer.

`dispute`, `hold` (until a date, then it lapses by itself), `promise` (until its date;
closed as kept or broken), `payment_plan`, `in_collection` and `legal_hold` (insolvency,
litigation: never remind). Each is opened and closed by someone, for a reason, and both
are audit events naming the actor. The planner leaves out every invoice an open state
covers, through `drop_blocked` (set-based, over the day's candidates only).
"""

from __future__ import annotations

import datetime as dt
import getpass
from decimal import Decimal

from sqlalchemy import String, and_, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from hub.clock import utcnow
from hub.errors import PermanentError
from hub.plan.agenda import look_at
from hub.plan.scenarios import steps_of
from hub.store.events import record_event
from hub.store.models import CaseState, Customer, Invoice, customer_named
from hub.store.money import Money

KINDS = ("dispute", "hold", "promise", "payment_plan", "in_collection", "legal_hold")
#: the scenario `stop_when` reason each kind answers to; None: it always stops reminders
STOP_REASON = {"dispute": "disputed", "promise": "promised", "payment_plan": "on_payment_plan",
               "in_collection": "in_collection", "hold": None, "legal_hold": None}
OUTCOMES = ("resolved", "kept", "broken", "withdrawn")


def actor(given: str | None = None) -> str:
    """Who did it: as given (`--by`), else the operating-system user."""
    if given:
        return given
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def open_states(today: dt.date, kinds: list[str]):
    c = CaseState.__table__.c
    return and_(c.closed_at.is_(None), or_(c.until.is_(None), c.until >= today),
                c.kind.in_(kinds))


def open_case(s: Session, kind: str, *, invoice: str | None = None,
              customer: str | int | None = None,
              reason: str | None = None, until: dt.date | None = None,
              amount: Decimal | None = None, by: str | None = None,
              instalments: list[tuple[dt.date, Decimal]] | None = None) -> CaseState:
    if kind not in KINDS:
        raise PermanentError(f"no case state {kind!r}: use one of {', '.join(KINDS)}")
    if bool(invoice) == bool(customer):
        raise PermanentError("name an invoice (--invoice NUMBER) or a customer (--customer X)")
    if kind == "promise" and until is None:
        raise PermanentError("a promise needs its date: --until YYYY-MM-DD")
    if kind == "payment_plan" and not instalments:
        raise PermanentError("a payment plan needs its instalments: --instalment "
                             "YYYY-MM-DD:AMOUNT, once per instalment")
    if instalments and kind != "payment_plan":
        raise PermanentError("only a payment plan has instalments")
    inv_row = cust_row = None
    if invoice:
        inv_row = s.execute(select(Invoice).where(Invoice.number == invoice)).scalars().first()
        if inv_row is None:
            raise PermanentError(f"no invoice numbered {invoice!r} (see `relance invoices`)")
    else:
        cust_row = s.get(Customer, customer) if isinstance(customer, int) else s.execute(
            select(Customer).where(customer_named(customer))).scalars().first()
        if cust_row is None:
            raise PermanentError(f"no customer {customer!r} (see `relance customers`)")
    plan = sorted(instalments or ())
    state = CaseState(kind=kind, invoice_id=inv_row.id if inv_row else None,
                      customer_id=cust_row.id if cust_row else None, reason=reason,
                      until=plan[-1][0] if plan else until, amount=amount,
                      opened_by=actor(by))
    covered = owed_invoices(s, state)  # what it covers now: a promise is kept when it falls
    owed = sum((i.amount_due for i in covered), Decimal(0))
    currency = inv_row.currency if inv_row else s.execute(select(Invoice.currency).where(
        Invoice.customer_id == cust_row.id, Invoice.status == "open")).scalars().first()
    state.data = {"balance": str(owed), "currency": currency or "",
                  "invoices": [i.id for i in covered]} | (
        {"instalments": [[d.isoformat(), str(a)] for d, a in plan]} if plan else {})
    s.add(state)
    s.flush()
    target = f"invoice {inv_row.number}" if inv_row else f"customer {cust_row.name}"
    record_event(s, "case_opened", f"{kind} on {target} by {state.opened_by}"
                 + (f" until {until}" if until else "") + (f": {reason}" if reason else ""),
                 invoice_id=inv_row.id if inv_row else None,
                 customer_id=inv_row.customer_id if inv_row else cust_row.id,
                 data={"case": state.id, "kind": kind, "by": state.opened_by})
    return state


def owed_invoices(s: Session, state: CaseState) -> list[Invoice]:
    q = select(Invoice).where(Invoice.status == "open", Invoice.kind == "invoice",
                              Invoice.amount_due > 0, Invoice.hub_paid_at.is_(None))
    q = q.where(Invoice.id == state.invoice_id) if state.invoice_id else \
        q.where(Invoice.customer_id == state.customer_id)
    return list(s.execute(q.order_by(Invoice.due_date, Invoice.id)).scalars())


def balance(s: Session, state: CaseState) -> Decimal:
    """What is still owed on the invoices the state covered when it was opened (a new
    invoice of the customer does not count against their promise)."""
    covered = state.data.get("invoices")
    invoices = owed_invoices(s, state)
    if covered is not None:
        covered = set(covered)
        invoices = [i for i in invoices if i.id in covered]
    return sum((i.amount_due for i in invoices), Decimal(0))


def paid_since_opened(s: Session, state: CaseState) -> Decimal:
    """How much of what the state covered was paid since it was opened."""
    return max(Decimal(0), Decimal(state.data["balance"]) - balance(s, state))


def instalments(state: CaseState) -> list[tuple[dt.date, Decimal]]:
    return [(dt.date.fromisoformat(d), Decimal(a)) for d, a in state.data.get("instalments", ())]


def resume(s: Session, cfg, state: CaseState) -> None:
    """A broken promise or missed instalment: the covered invoices take their next step
    today, whatever its date and without the `min_gap` wait — the scenario's
    `on_broken_promise` step if it names one, never one below a step already sent."""
    from hub.plan.standing import resume_at, standing

    for inv in owed_invoices(s, state):
        name = s.get(Customer, inv.customer_id).scenario
        sc = cfg.scenarios.get(name or "")
        if sc is None:
            continue
        steps = steps_of(sc)
        level = standing(s, inv.id, name).level
        target = next((st.index for st in steps if st.key == sc.on_broken_promise), None) \
            if sc.on_broken_promise else None
        jump = max(level + 1, target if target is not None else level + 1)
        if jump >= len(steps):  # every step went out already
            continue
        resume_at(s, inv.id, name, steps[jump].key, jump)
        look_at(s, [inv.id])


def close_case(s: Session, case_id: int, *, outcome: str = "resolved", reason: str | None = None,
               by: str | None = None, config=None) -> CaseState:
    """Close a state; a broken promise or plan resumes the scenario at once (`config`: the
    workspace's, to find the scenario's `on_broken_promise` step)."""
    state = s.get(CaseState, case_id)
    if state is None:
        raise PermanentError(f"no case {case_id} (see `relance case list`)")
    if state.closed_at is not None:
        raise PermanentError(f"case {case_id} was closed on {state.closed_at:%Y-%m-%d} by "
                             f"{state.closed_by}")
    if outcome not in OUTCOMES:
        raise PermanentError(f"--outcome must be one of {', '.join(OUTCOMES)}")
    state.closed_at, state.closed_by, state.outcome = utcnow(), actor(by), outcome
    if reason:
        state.data = {**state.data, "closed_because": reason}
    s.add(state)
    record_event(s, "case_closed", f"{state.kind} {case_id} closed ({outcome}) by "
                 f"{state.closed_by}" + (f": {reason}" if reason else "")
                 + ("; reminders resume at the next step" if outcome == "broken" else ""),
                 invoice_id=state.invoice_id, customer_id=state.customer_id,
                 data={"case": case_id, "outcome": outcome, "by": state.closed_by})
    if outcome == "broken" and config is not None:
        resume(s, config, state)
    return state


def blocking(today: dt.date, stop_when: list[str], remind_undisputed: bool = False):
    """SQL over case_state: the open states that keep an invoice they name (or whose
    customer they name) from the scenario's steps today."""
    c = CaseState.__table__.c
    live = open_states(today, [k for k in KINDS if stops(k, stop_when)])
    if remind_undisputed:  # a partial dispute leaves the undisputed rest to remind
        live = and_(live, or_(c.kind != "dispute", c.amount.is_(None), c.invoice_id.is_(None)))
    return live


def drop_blocked(s: Session, candidate, today: dt.date, stop_when: list[str],
                 remind_undisputed: bool = False, audit: bool = True) -> set[int]:
    """Take out of today's candidates every invoice an open state covers, say why once per
    customer and state, and return the customers concerned. After the scan, so only the
    day's due invoices are probed, not every open one."""
    from sqlalchemy import delete, insert, literal_column

    from hub.store.models import Event

    c, cand = CaseState.__table__.c, candidate.c
    live = blocking(today, stop_when, remind_undisputed)
    hit = or_(c.invoice_id == cand.invoice_id, c.customer_id == cand.customer_id)
    pairs = select(cand.customer_id, c.id, c.kind, c.until).distinct().select_from(
        candidate.join(CaseState.__table__, hit)).where(live).subquery("held")
    h = pairs.c
    message = (literal("not reminded today: ") + h.kind + literal(" (case ")
               + cast(h.id, String) + literal(")")
               + func.coalesce(literal(" until ") + cast(h.until, String), literal("")))
    if audit:
        s.execute(insert(Event.__table__).from_select(
            ["at", "kind", "level", "customer_id", "message", "data"],
            select(literal(utcnow(), Event.__table__.c.at.type), literal("suppressed"),
                   literal("info"), h.customer_id, message,
                   func.json_object("reason", h.kind, "case", h.id, "on", today.isoformat())
                   if s.get_bind().dialect.name == "sqlite" else
                   func.json_build_object("reason", h.kind, "case", h.id, "on",
                                          today.isoformat()))))
    affected = set(s.execute(select(h.customer_id).distinct()).scalars())
    if affected:
        s.execute(delete(candidate).where(exists(select(literal_column("1")).select_from(
            CaseState.__table__).where(live, hit))))
    return affected


def disputed_part(today: dt.date):
    """SQL: the amount of the invoice under an open partial dispute (0 when none)."""
    c, inv = CaseState.__table__.c, Invoice.__table__.c
    return func.coalesce(select(func.sum(c.amount)).where(
        open_states(today, ["dispute"]), c.invoice_id == inv.id, c.amount.is_not(None))
        .scalar_subquery(), literal(Decimal(0), Money()))


def stops(kind: str, stop_when: list[str], partial: bool = False,
          remind_undisputed: bool = False) -> bool:
    """Whether an open state of `kind` stops a scenario with these `stop_when` reasons (a
    `partial` dispute does not when the scenario reminds the undisputed rest)."""
    if kind == "dispute" and partial and remind_undisputed:
        return False
    reason = STOP_REASON.get(kind)
    return reason is None or reason in stop_when


def covering(s: Session, invoices: list[Invoice],
             today: dt.date) -> dict[int, list[tuple[str, str, bool]]]:
    """Open states over these invoices, as (kind, words, partial) per invoice id (partial: a
    dispute of part of the invoice's amount): one query for a
    whole send group (the send stage drops them at the last moment — a dispute opened
    after the plan still stops the reminder)."""
    if not invoices:
        return {}
    c = CaseState.__table__.c
    rows = s.execute(select(c.kind, c.invoice_id, c.customer_id, c.until, c.amount).where(
        open_states(today, list(KINDS)), or_(
            c.invoice_id.in_([i.id for i in invoices]),
            c.customer_id.in_(list({i.customer_id for i in invoices}))))).all()
    out: dict[int, list[tuple[str, str, bool]]] = {}
    for kind, inv_id, cust_id, until, amount in rows:
        partial = kind == "dispute" and inv_id is not None and amount is not None
        words = kind + (f" of {amount.normalize():f}" if partial else "") + (
            f" until {until}" if until else "")
        for i in invoices:
            if i.id == inv_id or (inv_id is None and i.customer_id == cust_id):
                out.setdefault(i.id, []).append((kind, words, partial))
    return out
