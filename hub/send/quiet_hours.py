"""Quiet hours in the recipient's time zone: when may a message be delivered?"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hub.config import QuietHours


def _hm(text: str) -> dt.time:
    h, m = text.split(":")
    return dt.time(int(h), int(m))


def next_allowed(now_utc: dt.datetime, quiet: QuietHours, tz: str) -> dt.datetime | None:
    """None when `now_utc` is outside the quiet window; else the UTC instant it ends."""
    zone = ZoneInfo(tz)
    local = now_utc.astimezone(zone)
    start, end = _hm(quiet.start), _hm(quiet.end)

    def quiet_at(t: dt.datetime) -> bool:
        if quiet.weekends and t.weekday() >= 5:
            return True
        clock = t.time()
        if start <= end:
            return start <= clock < end
        return clock >= start or clock < end

    if not quiet_at(local):
        return None
    # walk forward to the next `end` boundary on an allowed day
    day = local.date()
    for _ in range(9):
        candidate = dt.datetime.combine(day, end, tzinfo=zone)
        if candidate > local and not quiet_at(candidate):
            return candidate.astimezone(dt.UTC)
        day += dt.timedelta(days=1)
    return None
