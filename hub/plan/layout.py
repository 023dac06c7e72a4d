"""Where the planner stored each scenario's steps: positions kept in line with the config."""

from __future__ import annotations

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from hub.plan.scenarios import Step
from hub.store.models import Dispatch, DispatchInvoice, Dunning, StepLayout
from hub.store.records import dialect_insert


def remap_step_indexes(s: Session, name: str, steps: list[Step]) -> None:
    """Keep stored step positions in line with the config when steps were added or moved,
    so "the highest step already planned" stays a cheap index seek on the daily path.
    The layout they were stored under is kept (`step_layout`): an unchanged config costs
    one row read, not a pass over every dispatch."""
    d, di, dn, lay = (Dispatch.__table__, DispatchInvoice.__table__, Dunning.__table__,
                      StepLayout.__table__)
    keys = [st.key for st in steps]
    if s.execute(select(lay.c.steps).where(lay.c.scenario == name)).scalar() == keys:
        return
    up = dialect_insert(s, lay).values(scenario=name, steps=keys)
    s.execute(up.on_conflict_do_update(index_elements=["scenario"], set_={"steps": keys}))
    wanted = {st.key: st.index for st in steps}
    stored = s.execute(select(d.c.step, d.c.step_index).where(d.c.scenario == name).distinct()).all()
    # each stored (step, position) goes where its step now stands: moved by key, not by
    # position, since a step removed then added back can share its old position with another
    target = {(key, index): wanted.get(key, min(index, len(steps) - 1)) for key, index in stored}
    moved = {pair: new for pair, new in target.items() if pair[1] != new}
    if not moved:
        return
    for table in (d, di):  # one CASE per table, so chained moves (1→2, 2→3) cannot collide
        at = {pair: and_(table.c.step == pair[0], table.c.step_index == pair[1]) for pair in moved}
        s.execute(table.update().where(table.c.scenario == name, or_(*at.values())).values(
            step_index=case(*[(at[pair], new) for pair, new in moved.items()],
                            else_=table.c.step_index)))
    # dunning keeps positions without their keys: one that held a single step moves with it;
    # one that held several is read again from the links, now right
    places: dict[int, set[int]] = {}
    for (_, index), new in target.items():
        places.setdefault(index, set()).add(new)
    moves = {old: new.pop() for old, new in places.items() if len(new) == 1 and old not in new}
    shared = [old for old, new in places.items() if len(new) > 1]
    relinked = func.coalesce(select(func.max(di.c.step_index)).where(
        di.c.invoice_id == dn.c.invoice_id, di.c.scenario == name).scalar_subquery(), -1)
    moved_level = case(moves, value=dn.c.level, else_=dn.c.level) if moves else dn.c.level
    s.execute(dn.update().where(dn.c.scenario == name, dn.c.level.in_([*moves, *shared]))
              .values(level=case((dn.c.level.in_(shared), relinked), else_=moved_level)))
    if moves:
        s.execute(dn.update().where(dn.c.scenario == name, dn.c.resume_at.in_(moves))
                  .values(resume_at=case(moves, value=dn.c.resume_at)))
