"""What a person typed in a form, read strictly: a date, an amount (a Decimal, never a
float), a payment plan's instalments — each refused with what to write instead."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from hub.errors import RelanceError


def day(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        raise RelanceError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def amount(value) -> Decimal | None:
    if not value:
        return None
    try:
        number = Decimal(str(value).replace(",", "."))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number <= 0:
        raise RelanceError(f"{value!r} is not an amount (write 1250.00)")
    return number


def instalments(text: str) -> list[tuple[dt.date, Decimal]]:
    out = []
    for n, line in enumerate((text or "").splitlines(), 1):
        if line.strip():
            when, _, value = line.strip().partition(":")
            try:
                out.append((dt.date.fromisoformat(when.strip()), amount(value.strip())))
            except (ValueError, RelanceError):
                raise RelanceError(f"instalment line {n} {line.strip()!r}: write "
                                   "YYYY-MM-DD:AMOUNT") from None
    return out
