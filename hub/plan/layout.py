"""Where the planner stored each scenario's steps: positions kept in line with the config."""

from __future__ import annotations

from sqlalchemy import case, select
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
    moves = {index: wanted.get(key, min(index, len(steps) - 1)) for key, index in stored}
    moves = {old: new for old, new in moves.items() if old != new}
    if not moves:
        return
    for table in (d, di):  # one CASE per table, so chained moves (1→2, 2→3) cannot collide
        s.execute(table.update().where(table.c.scenario == name, table.c.step_index.in_(moves))
                  .values(step_index=case(moves, value=table.c.step_index)))
    s.execute(dn.update().where(dn.c.scenario == name, dn.c.level.in_(moves))
              .values(level=case(moves, value=dn.c.level)))
    s.execute(dn.update().where(dn.c.scenario == name, dn.c.resume_at.in_(moves))
              .values(resume_at=case(moves, value=dn.c.resume_at)))
