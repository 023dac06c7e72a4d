"""Money in the store: a Decimal kept as an exact integer of 1/10,000 units.

The one place the encoding is spelled: the `Money` column type (ORM reads and writes)
and the bulk writers' converters (`money_units`, `money_column`) use the same rule, so
sums, comparisons and `when:` conditions are exact in SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from decimal import Decimal
from itertools import repeat
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.types import TypeDecorator

MONEY_SCALE = 4
_FACTOR = Decimal(10) ** MONEY_SCALE
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)


class Money(TypeDecorator):
    """Exact Decimal as BIGINT of 1/10,000 units (never float, on any database)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        if value is None:
            return None
        return money_units(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return from_units(value)

    @property
    def python_type(self) -> type:
        return Decimal


def from_units(value: Any) -> Decimal | None:
    """The Decimal a stored integer of 1/10,000 units stands for (4 decimal places)."""
    if value is None:
        return None
    return (Decimal(int(value)) / _FACTOR).quantize(_QUANTUM)


def money_units(value: Decimal | None) -> int | None:
    """A Decimal as the integer of 1/10,000 units the `Money` column stores."""
    if value is None:
        return None
    if type(value) is not Decimal:
        if isinstance(value, float):
            raise TypeError("money must be Decimal, not float")
        value = Decimal(value)
    scaled = value.scaleb(MONEY_SCALE)
    units = int(scaled)
    if units != scaled:
        raise ValueError(f"{value} has more than {MONEY_SCALE} decimal places")
    return units


def money_column(values: Sequence) -> list[int]:
    """`money_units` of every value: in C for a column of storable Decimals, else value by
    value, which raises `money_units`' error for the first one the store cannot keep."""
    if set(map(type, values)) <= {Decimal}:
        try:
            scaled = list(map(Decimal.scaleb, values, repeat(MONEY_SCALE)))
            units = list(map(int, scaled))
        except (ValueError, OverflowError):  # NaN, Infinity: said below
            pass
        else:
            if all(map(operator.eq, units, scaled)):
                return units
    return list(map(money_units, values))
