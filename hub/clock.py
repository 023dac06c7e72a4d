"""The one clock: instants are UTC; "today" is the day in a given time zone (the company's).

Nothing reads the server's local zone: `today_in("Europe/Paris")` is the same day on a
machine set to UTC or to Pacific time.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC (what the store keeps)."""
    return dt.datetime.now(dt.UTC)


def today_in(tz: str) -> dt.date:
    """The calendar day it is now in the IANA zone `tz`."""
    return dt.datetime.now(ZoneInfo(tz)).date()


def day_in(moment: dt.datetime, tz: str) -> dt.date:
    """The calendar day `moment` (UTC when naive, as the store keeps it) falls on in `tz`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(tz)).date()
