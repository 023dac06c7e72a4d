"""The debtors' calendars in the plan: one cutoff per step and calendar, as SQL.

Customers are grouped by country and region (the company's when unknown); each group has
its calendar (`scenarios.debtor_calendar`), so each step has one cutoff date per group. The
planner compares an invoice's due date with a CASE over its customer's group: still one
set-based statement, with a branch per group present in the data (a few dozen at most).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from hub.config import CompanyConfig, ScenarioConfig
from hub.plan.scenarios import Step, cutoff, debtor_calendar
from hub.store.models import Customer


@dataclass
class Cutoffs:
    due: list  # per step: SQL, the latest due date for which the step is due today
    low: list  # per step: SQL, that less `catch_up_window` days (catch_up: none)
    company: list[dt.date]  # per step: the company calendar's cutoff (shown, stored)
    latest: dt.date  # the latest of all: a prefilter over invoice columns only
    calendars: list = field(default_factory=list)  # the company's, then each debtor group's

    @property
    def none_today(self) -> bool:
        return self.latest == dt.date.min


def group_key():
    """SQL: the customer's calendar group, `FR:` or `DE:BY` (country and region)."""
    c = Customer.__table__.c
    return c.country.concat(literal(":")).concat(func.coalesce(c.region, ""))


def cutoffs(s: Session, company: CompanyConfig, name: str, sc: ScenarioConfig,
            steps: list[Step], today: dt.date) -> Cutoffs:
    c = Customer.__table__.c
    groups = [(country, region) for country, region in s.execute(
        select(c.country, c.region).where(c.scenario == name, c.country.is_not(None))
        .distinct()).all()]
    home = debtor_calendar(company, sc, None)
    # catch_up: none — only steps whose (shifted) date is within the window: due dates
    # after the last one whose step fell before the window's first day
    before = today - dt.timedelta(days=sc.catch_up_window + 1)
    out = Cutoffs([], [], [], dt.date.min)
    cals = {f"{country}:{region or ''}": debtor_calendar(company, sc, country, region)
            for country, region in groups}
    out.calendars = [home, *cals.values()]
    for st in steps:
        base = cutoff(st.offset, today, home, sc.closed_days)
        per = {k: cutoff(st.offset, today, cal, sc.closed_days) for k, cal in cals.items()}
        low_base = cutoff(st.offset, before, home, sc.closed_days, sending=False) + dt.timedelta(days=1)
        low = {k: cutoff(st.offset, before, cal, sc.closed_days, sending=False)
               + dt.timedelta(days=1) for k, cal in cals.items()}
        out.company.append(base)
        out.latest = max([out.latest, base, *per.values()])
        other = {k: v for k, v in per.items() if v != base}
        out.due.append(case(other, value=group_key(), else_=literal(base)) if other
                       else literal(base))
        other_low = {k: v for k, v in low.items() if v != low_base}
        out.low.append(case(other_low, value=group_key(), else_=literal(low_base)) if other_low
                       else literal(low_base))
    return out
