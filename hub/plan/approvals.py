"""Approvals by risk: which planned dispatches a person must see first, and why.

The rules (`approvals:` in relance.yaml) become one SQL expression over the grouped
dispatch rows, evaluated in the planner's grouping INSERT: set-based, no Python loop.
"""

from __future__ import annotations

from sqlalchemy import String, and_, case, exists, func, literal, or_, select

from hub.config import ScenarioConfig
from hub.store.models import Customer, Dispatch
from hub.store.money import Money
from hub.workspace import Workspace


def approval_reason(ws: Workspace, name: str, sc: ScenarioConfig, g):
    """SQL over the grouped dispatch rows `g`: why a person must approve one ("step
    formal_notice; above 5000 EUR"), NULL when no rule holds it."""
    rules = ws.config.approvals
    everything = sc.require_approval if sc.require_approval is not None else \
        ws.config.dispatch.require_approval
    if everything or name in rules.scenarios:
        return literal(f"every step of scenario {name} is approved by a person")
    parts = []
    if rules.steps:
        parts.append((or_(g.c.step.in_(rules.steps), g.c.template.in_(rules.steps)),
                      literal("step ") + g.c.step))
    for cur, floor in rules.above.items():
        parts.append((and_(g.c.currency == cur, g.c.amount > literal(floor, Money())),
                      literal(f"above {floor} {cur}")))
    cust = Customer.__table__.c
    if rules.segments:
        segment = select(cust.segment).where(cust.id == g.c.customer_id).scalar_subquery()
        parts.append((segment.in_(rules.segments), literal("segment ") + segment))
    if rules.first_contact:
        d = Dispatch.__table__.c
        parts.append((~exists(select(d.id).where(d.customer_id == g.c.customer_id,
                                                 d.status == "sent")), literal("first contact")))
    if not parts:
        return literal(None, String)
    joined = None
    for cond, words in parts:
        piece = case((cond, words + literal("; ")), else_=literal(""))
        joined = piece if joined is None else joined + piece
    return func.nullif(func.rtrim(joined, "; "), "")
