"""Quiet hours in the recipient's time zone: when may a message be delivered?

The zone is the customer's when the ledger has it, else their country's when it has one
(Babel's territory zones, all at one offset), else the company's. A debtor's public
holiday is quiet all day for the channels that interrupt people (SMS, calls).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from zoneinfo import ZoneInfo

from hub.config import QuietHours


def _hm(text: str) -> dt.time:
    h, m = text.split(":")
    return dt.time(int(h), int(m))


#: no clock window, only the closed days (a debtor's public holidays); resumes at 08:00
HOLIDAYS_ONLY = QuietHours(start="08:00", end="08:00", weekends=False)


@functools.cache
def country_zone(country: str | None) -> str | None:
    """The country's time zone when it has one offset all year (FR, DE, GB…), else None."""
    if not country:
        return None
    from babel.core import get_global

    zones = get_global("territory_zones").get(country.upper(), ())
    probes = (dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC), dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC))
    offsets = {tuple(p.astimezone(ZoneInfo(z)).utcoffset() for p in probes) for z in zones}
    return zones[0] if len(offsets) == 1 else None


def debtor_zone(timezone: str | None, country: str | None, company_tz: str) -> str:
    return timezone or country_zone(country) or company_tz


def next_allowed(now_utc: dt.datetime, quiet: QuietHours, tz: str,
                 closed: Callable[[dt.date], bool] | None = None) -> dt.datetime | None:
    """None when `now_utc` is outside the quiet window; else the UTC instant it ends.
    `closed(day)`: days that are quiet all day (the debtor's public holidays)."""
    zone = ZoneInfo(tz)
    local = now_utc.astimezone(zone)
    start, end = _hm(quiet.start), _hm(quiet.end)

    def quiet_at(t: dt.datetime) -> bool:
        if (quiet.weekends and t.weekday() >= 5) or (closed is not None and closed(t.date())):
            return True
        clock = t.time()
        if start <= end:
            return start <= clock < end
        return clock >= start or clock < end

    if not quiet_at(local):
        return None
    # walk forward to the next `end` boundary on an allowed day
    day = local.date()
    for _ in range(15):
        candidate = dt.datetime.combine(day, end, tzinfo=zone)
        if candidate > local and not quiet_at(candidate):
            return candidate.astimezone(dt.UTC)
        day += dt.timedelta(days=1)
    return None
