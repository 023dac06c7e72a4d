"""Where the planner stored each scenario's steps: positions kept in line with the config."""

from __future__ import annotations

from sqlalchemy import and_, case, or_, select
from sqlalchemy.orm import Session

from hub.plan.scenarios import Step
from hub.store.models import Dispatch, DispatchInvoice, PlanResume, StepLayout
from hub.store.records import dialect_insert


def remap_step_indexes(s: Session, name: str, steps: list[Step]) -> None:
    """Keep stored step positions in line with the config when steps were added or moved,
    so "the highest step already planned" stays a cheap index seek on the daily path.
    The layout they were stored under is kept (`step_layout`): an unchanged config costs
    one row read, not a pass over every dispatch."""
    d, di, res, lay = (Dispatch.__table__, DispatchInvoice.__table__, PlanResume.__table__,
                       StepLayout.__table__)
    keys = [st.key for st in steps]
    if s.execute(select(lay.c.steps).where(lay.c.scenario == name)).scalar() == keys:
        return
    up = dialect_insert(s, lay).values(scenario=name, steps=keys)
    s.execute(up.on_conflict_do_update(index_elements=["scenario"], set_={"steps": keys}))
    wanted = {st.key: st.index for st in steps}
    # a step to resume at moves by its key (one no longer in the config: to the last step)
    last = len(steps) - 1
    s.execute(res.update().where(res.c.scenario == name).values(step_index=case(
        wanted, value=res.c.step, else_=case((res.c.step_index > last, last),
                                             else_=res.c.step_index))))
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
