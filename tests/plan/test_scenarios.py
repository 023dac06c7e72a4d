"""Step offsets, business days with public holidays, and the planner's cutoff inversion."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.plan.scenarios import BusinessCalendar, Offset, cutoff, parse_offset, step_date


@pytest.mark.parametrize("text,offset", [
    ("due", Offset(0, False)), ("due-7d", Offset(-7, False)), ("due+3d", Offset(3, False)),
    ("due+2w", Offset(14, False)), ("due+5bd", Offset(5, True)), ("due - 3bd", Offset(-3, True)),
])
def test_parse_offset(text, offset):
    assert parse_offset(text) == offset


@pytest.mark.parametrize("bad", ["due+3", "7d", "due+3 days", "due*2d"])
def test_bad_offsets_explain_the_syntax(bad):
    with pytest.raises(ValueError, match="due-7d, due\\+3d"):
        parse_offset(bad)


def test_business_days_skip_weekends_and_french_holidays():
    cal = BusinessCalendar("FR")
    # Thu 24 Dec 2026 + 2 business days: Fri 25 is Christmas, weekend → Tue 29 Dec
    assert cal.add(dt.date(2026, 12, 24), 2) == dt.date(2026, 12, 29)
    assert cal.add(dt.date(2026, 12, 29), -2) == dt.date(2026, 12, 24)
    # 1 May (Labour Day) is not a business day in France
    assert not cal.is_business_day(dt.date(2026, 5, 1))


@pytest.mark.parametrize("offset", [Offset(5, True), Offset(-3, True), Offset(10, False),
                                    Offset(-7, False), Offset(0, True)])
def test_cutoff_is_the_exact_inverse_of_step_date(offset):
    cal = BusinessCalendar("FR")
    for today in (dt.date(2026, 12, 28) + dt.timedelta(days=i) for i in range(0, 40, 3)):
        c = cutoff(offset, today, cal)
        assert step_date(c, offset, cal) <= today
        assert step_date(c + dt.timedelta(days=1), offset, cal) > today
