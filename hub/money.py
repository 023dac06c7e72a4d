"""Money for people: Babel formats, Decimal in, never float."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision


def fmt(amount: Decimal, currency: str, locale: str = "en_GB") -> str:
    return format_currency(amount, currency, locale=locale)


def fmt_amounts(amounts: dict[str, Decimal], locale: str = "en_GB") -> str:
    return ", ".join(fmt(a, c, locale) for c, a in sorted(amounts.items()))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit (JPY 0, EUR 2, KWD 3)."""
    return amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency)))
