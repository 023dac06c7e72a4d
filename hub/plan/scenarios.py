"""Scenario steps as dates: offsets from the due date, in calendar or business days.

The planner never computes a step date per invoice. It inverts the question: for
today, which due dates make step *s* due? Adding business days is monotonic in the
due date, so each step has one *cutoff*: step s is due for an invoice iff
``due_date <= cutoff(s)``. That keeps planning a single set-based SQL statement.

Each debtor has their own calendar (their country and region's public holidays, the
scenario's blackout periods); a step landing on a closed day moves to the next open day
(or the previous, per scenario), and nothing goes out on a debtor's closed day. The shift
keeps the step date monotonic in the due date, so there is still one cutoff per step and
calendar.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import holidays

from hub.config import CompanyConfig, ScenarioConfig, StepConfig
from hub.config.offsets import Offset, parse_offset


class BusinessCalendar:
    """Open days of a debtor (or the company): its weekdays minus its country's (and
    region's) public holidays and the scenario's blackout periods."""

    def __init__(self, country: str, subdivision: str | None = None,
                 workdays: tuple[int, ...] = (0, 1, 2, 3, 4),
                 blackout: tuple[str, ...] = ()):
        self.workdays = frozenset(workdays)
        self.blackout = tuple(_period(p) for p in blackout)
        try:
            self.holidays = holidays.country_holidays(country, subdiv=subdivision)
        except NotImplementedError:
            self.holidays = holidays.HolidayBase()

    @classmethod
    def for_company(cls, company: CompanyConfig,
                    blackout: tuple[str, ...] = ()) -> BusinessCalendar:
        return _calendar(company.country, company.subdivision, tuple(company.workdays), blackout)

    def is_business_day(self, day: dt.date) -> bool:
        md = (day.month, day.day)
        return day.weekday() in self.workdays and day not in self.holidays and not any(
            (start <= md <= end) if start <= end else (md >= start or md <= end)
            for start, end in self.blackout)

    def add(self, day: dt.date, n: int) -> dt.date:
        """`n` business days after (before, when negative) `day`."""
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        while remaining:
            day += dt.timedelta(days=step)
            if self.is_business_day(day):
                remaining -= 1
        return day

    def shift(self, day: dt.date, how: str) -> dt.date:
        """The open day a step falling on `day` goes out: `next`, `previous` or as is."""
        if how == "ignore":
            return day
        step = dt.timedelta(days=1 if how == "next" else -1)
        for _ in range(60):  # blackouts and holiday runs are short
            if self.is_business_day(day):
                return day
            day += step
        return day


def _period(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    start, end = text.split("..")
    (m1, d1), (m2, d2) = (tuple(int(x) for x in part.split("-")) for part in (start, end))
    return (m1, d1), (m2, d2)


@functools.cache
def _calendar(country: str, subdivision: str | None, workdays: tuple[int, ...],
              blackout: tuple[str, ...] = ()) -> BusinessCalendar:
    return BusinessCalendar(country, subdivision, workdays, blackout)


@functools.cache
def _subdivisions(country: str) -> frozenset[str]:
    return frozenset(holidays.list_supported_countries().get(country, ()))


def debtor_calendar(company: CompanyConfig, scenario: ScenarioConfig | None,
                    country: str | None, region: str | None = None) -> BusinessCalendar:
    """The calendar of a debtor: their country's (the company's when unknown), with their
    region's holidays where the `holidays` package has them."""
    blackout = tuple(scenario.blackout) if scenario else ()
    if not country or (country == company.country and not region):
        return BusinessCalendar.for_company(company, blackout)
    return _calendar(country, region if region in _subdivisions(country) else None,
                     tuple(company.workdays), blackout)


def step_date(due: dt.date, offset: Offset, cal: BusinessCalendar,
              how: str = "ignore") -> dt.date:
    day = cal.add(due, offset.days) if offset.business else due + dt.timedelta(days=offset.days)
    return cal.shift(day, how)


def cutoff(offset: Offset, today: dt.date, cal: BusinessCalendar, how: str = "ignore",
           sending: bool = True) -> dt.date:
    """The latest due date for which the step falls on or before `today` (`date.min` when
    `sending` on a closed day of this calendar and steps shift: nothing goes out on it)."""
    if sending and how != "ignore" and not cal.is_business_day(today):
        return dt.date.min
    if not offset.business and how == "ignore":
        return today - dt.timedelta(days=offset.days)
    # step_date is non-decreasing in `due`: binary search the last due with date <= today
    span = abs(offset.days) * 3 + 70
    lo, hi = today - dt.timedelta(days=span), today + dt.timedelta(days=span)
    while lo < hi:
        mid = lo + dt.timedelta(days=(hi - lo).days // 2 + 1)
        if step_date(mid, offset, cal, how) <= today:
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
