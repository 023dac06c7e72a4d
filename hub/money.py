"""Money for people: Babel formats, Decimal in, never float."""

from __future__ import annotations

import functools
from decimal import Decimal

from babel.numbers import format_currency, format_decimal, get_currency_precision


def fmt(amount: Decimal, currency: str, locale: str = "en_GB") -> str:
    return format_currency(amount, currency, locale=locale)


def fmt_amounts(amounts: dict[str, Decimal], locale: str = "en_GB") -> str:
    return ", ".join(fmt(a, c, locale) for c, a in sorted(amounts.items()))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit (JPY 0, EUR 2, KWD 3)."""
    return amount.quantize(_minor_unit(currency))


@functools.cache
def _minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))


def fmt_number(amount: Decimal, currency: str, locale: str = "en_GB") -> str:
    """The amount with the currency's decimals and no symbol (for tables with a currency column)."""
    digits = get_currency_precision(currency)
    return format_decimal(quantize(amount, currency), format=f"#,##0.{'0' * digits}" if digits
                          else "#,##0", locale=locale)
