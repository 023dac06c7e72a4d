"""Late-payment law packs: what a creditor may claim on an overdue invoice.

Interest is simple, per day, on a 365-day year, in Decimal, rounded once at the end to the
currency's minor unit (half up). Where the law sets the rate per half-year (the EU
directive, France, Germany), each day of delay bears the rate of its half-year; where it
fixes the rate when the debt becomes overdue (the UK Act), every day bears that one.

- `eu`: Directive 2011/7/EU, art. 2(6)–(7), 3, 6: ECB main refinancing rate on the first
  calendar day of the half-year + 8 points; €40 per invoice. Business debtors only.
- `fr`: Code de commerce, art. L441-10 and D441-5: ECB rate in force on 1 January (first
  half-year) or 1 July (second) + 10 points; €40 per invoice. Business debtors only.
- `de`: BGB § 288 (1), (2), (5) with § 247: Basiszinssatz + 9 points for a business debtor
  (+ 5 for a consumer); €40 lump sum from a business debtor.
- `gb`: Late Payment of Commercial Debts (Interest) Act 1998, s. 4–5A, and the Rate of
  Interest (No. 3) Order 2002: Bank Rate in force on 31 December (for debts overdue from
  1 January to 30 June) or 30 June (from 1 July) + 8 %, fixed for the debt; fixed sum
  £40 under £1,000, £70 under £10,000, £100 from £10,000. Business debtors only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel.numbers import get_currency_precision

from hub.errors import PermanentError
from hub.law.rates import Series
from hub.money import quantize

D = dt.timedelta


@dataclass(frozen=True)
class Pack:
    key: str
    law: str
    series: str
    margin_b2b: Decimal
    margin_b2c: Decimal | None  # None: the law does not cover consumer debts
    per_half_year: bool  # each half-year its rate (else fixed when overdue)
    fixed_b2b: tuple[tuple[Decimal | None, Decimal], ...]  # (below this principal, sum)
    fixed_currency: str


PACKS = {
    "eu": Pack("eu", "Directive 2011/7/EU (late payment in commercial transactions)",
               "ecb_mro", Decimal(8), None, True, ((None, Decimal(40)),), "EUR"),
    "fr": Pack("fr", "Code de commerce, art. L441-10 et D441-5", "ecb_mro", Decimal(10), None,
               True, ((None, Decimal(40)),), "EUR"),
    "de": Pack("de", "BGB § 288 (Verzugszinsen, Pauschale) mit § 247 (Basiszinssatz)",
               "de_basiszins", Decimal(9), Decimal(5), True, ((None, Decimal(40)),), "EUR"),
    "gb": Pack("gb", "Late Payment of Commercial Debts (Interest) Act 1998", "boe_bank_rate",
               Decimal(8), None, False,
               ((Decimal(1000), Decimal(40)), (Decimal(10000), Decimal(70)),
                (None, Decimal(100))), "GBP"),
}
#: the pack of a company's (or customer's) country; any other EU state gets the directive
BY_COUNTRY = {"FR": "fr", "DE": "de", "GB": "gb"}
EU = {"AT", "BE", "BG", "CY", "CZ", "DK", "EE", "ES", "FI", "GR", "HR", "HU", "IE", "IT",
      "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}


def pack_for(country: str | None) -> str | None:
    country = (country or "").upper()
    return BY_COUNTRY.get(country) or ("eu" if country in EU else None)


def company_pack(company) -> str:
    """The pack of the company's claims: `company.law`, else its country's."""
    key = company.law or pack_for(company.country)
    if key is None:
        raise PermanentError(f"no late-payment law pack for {company.country}: set company.law "
                             "(eu, fr, de, gb) in relance.yaml")
    return key


@dataclass
class Claim:
    law: str
    pack: str
    customer_type: str
    currency: str
    principal: Decimal
    due_date: dt.date
    on: dt.date
    days_late: int
    rate_percent: Decimal | None  # the rate when one applies to every day, else None
    interest: Decimal
    fixed_compensation: Decimal
    total: Decimal
    periods: list[dict[str, Any]] = field(default_factory=list)  # (from, to, days, rate)

    def as_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}


def _half_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 1 if day.month <= 6 else 7, 1)


def _reference_day(pack: Pack, half: dt.date) -> dt.date:
    """The day whose rate a half-year uses: its first day, or (UK) the eve of it."""
    return half - D(days=1) if pack.key == "gb" else half


def claim(pack_key: str, *, principal: Decimal, currency: str, due: dt.date, on: dt.date,
          rates: dict[str, Series], customer_type: str = "business",
          own_rate: Decimal | None = None) -> Claim:
    """What may be claimed on `principal` due on `due`, as of `on`. `own_rate` (percent a
    year): the invoice's own contractual rate, which replaces the pack's."""
    pack = PACKS.get(pack_key)
    if pack is None:
        raise PermanentError(f"no law pack {pack_key!r}: use one of {', '.join(PACKS)}")
    consumer = customer_type == "consumer"
    margin = pack.margin_b2c if consumer else pack.margin_b2b
    if margin is None and own_rate is None:
        raise PermanentError(f"{pack.law} covers business debtors only; this customer is a "
                             "consumer (customer_type): no statutory claim to make")
    days = max(0, (on - due).days)
    periods: list[dict[str, Any]] = []
    interest = Decimal(0)
    day = due + D(days=1)
    fixed_rate = None
    if own_rate is None and not pack.per_half_year and days:
        fixed_rate = rates[pack.series].at(_reference_day(pack, _half_start(day))) + margin
    while day <= on:
        half = _half_start(day)
        end = min(on, dt.date(half.year, 6, 30) if half.month == 1 else dt.date(half.year, 12, 31))
        if own_rate is not None:
            rate = Decimal(format(own_rate.normalize(), "f"))  # 9.5, not 9.5000 from the store
        elif fixed_rate is not None:
            rate = fixed_rate
        else:
            rate = rates[pack.series].at(_reference_day(pack, half)) + margin
        n = (end - day).days + 1
        interest += principal * rate / Decimal(100) * n / Decimal(365)
        periods.append({"from": day, "to": end, "days": n, "rate_percent": str(rate)})
        day = end + D(days=1)
    # rounded once, at the end, half up to the currency's minor unit
    interest = interest.quantize(Decimal(1).scaleb(-get_currency_precision(currency)),
                                 ROUND_HALF_UP)
    fixed = Decimal(0)
    if not consumer and days and currency == pack.fixed_currency:
        fixed = next(amount for below, amount in pack.fixed_b2b
                     if below is None or principal < below)
    rates_used = {p["rate_percent"] for p in periods}
    return Claim(law=pack.law + (" (the invoice's own rate)" if own_rate is not None else ""),
                 pack=pack.key, customer_type=customer_type, currency=currency,
                 principal=quantize(principal, currency), due_date=due, on=on, days_late=days,
                 rate_percent=Decimal(rates_used.pop()) if len(rates_used) == 1 else None,
                 interest=interest, fixed_compensation=quantize(fixed, currency),
                 total=quantize(principal + interest + fixed, currency), periods=periods)
