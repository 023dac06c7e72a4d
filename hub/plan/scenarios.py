"""Scenario steps as dates: offsets from the due date, in calendar or business days.

The planner never computes a step date per invoice. It inverts the question: for
today, which due dates make step *s* due? Adding business days is monotonic in the
due date, so each step has one *cutoff*: step s is due for an invoice iff
``due_date <= cutoff(s)``. That keeps planning a single set-based SQL statement.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import holidays

from hub.config import CompanyConfig, ScenarioConfig, StepConfig
from hub.config.offsets import Offset, parse_offset


class BusinessCalendar:
    """Working days of the company: its weekdays minus its country's public holidays."""

    def __init__(self, country: str, subdivision: str | None = None,
                 workdays: tuple[int, ...] = (0, 1, 2, 3, 4)):
        self.workdays = frozenset(workdays)
        try:
            self.holidays = holidays.country_holidays(country, subdiv=subdivision)
        except NotImplementedError:
            self.holidays = holidays.HolidayBase()

    @classmethod
    def for_company(cls, company: CompanyConfig) -> BusinessCalendar:
        return _calendar(company.country, company.subdivision, tuple(company.workdays))

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() in self.workdays and day not in self.holidays

    def add(self, day: dt.date, n: int) -> dt.date:
        """`n` business days after (before, when negative) `day`."""
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        while remaining:
            day += dt.timedelta(days=step)
            if self.is_business_day(day):
                remaining -= 1
        return day


@functools.cache
def _calendar(country: str, subdivision: str | None, workdays: tuple[int, ...]) -> BusinessCalendar:
    return BusinessCalendar(country, subdivision, workdays)


def step_date(due: dt.date, offset: Offset, cal: BusinessCalendar) -> dt.date:
    if offset.business:
        return cal.add(due, offset.days)
    return due + dt.timedelta(days=offset.days)


def cutoff(offset: Offset, today: dt.date, cal: BusinessCalendar) -> dt.date:
    """The latest due date for which the step falls on or before `today`."""
    if not offset.business:
        return today - dt.timedelta(days=offset.days)
    # step_date is non-decreasing in `due`: binary search the last due with date <= today
    span = abs(offset.days) * 3 + 40
    lo, hi = today - dt.timedelta(days=span), today + dt.timedelta(days=span)
    while lo < hi:
        mid = lo + dt.timedelta(days=(hi - lo).days // 2 + 1)
        if step_date(mid, offset, cal) <= today:
            lo = mid
        else:
            hi = mid - dt.timedelta(days=1)
    return lo


@dataclass(frozen=True)
class Step:
    """A step resolved for planning: its stable key and order in the scenario."""

    index: int
    key: str
    offset: Offset
    config: StepConfig


def steps_of(scenario: ScenarioConfig) -> list[Step]:
    """Steps in the order of their offsets (the order catch-up reasons about)."""
    parsed = [(parse_offset(s.at), s) for s in scenario.steps]
    ordered = sorted(parsed, key=lambda p: (p[0].days, p[0].business))
    return [Step(i, s.id or s.at.replace(" ", ""), off, s) for i, (off, s) in enumerate(ordered)]
