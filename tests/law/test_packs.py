"""Each law pack against examples computed by hand from the official texts and rates.

Sources:
- Directive 2011/7/EU, art. 2(6)–(7) (reference rate: the ECB main refinancing rate on the
  first calendar day of the half-year), art. 2(5), 3(1) (+ 8 points), art. 6 (EUR 40);
- Code de commerce art. L441-10 (ECB rate on 1 January / 1 July + 10 points) and D441-5
  (EUR 40);
- BGB § 288 (1) (+ 5 points), (2) (+ 9 points), (5) (EUR 40) and § 247 (Basiszinssatz,
  set on 1 January and 1 July; Deutsche Bundesbank: 2.27 % from 2025-01-01, 1.27 % from
  2025-07-01 and 2026-01-01);
- Late Payment of Commercial Debts (Interest) Act 1998 s. 4, 5A and the Late Payment of
  Commercial Debts (Rate of Interest) (No. 3) Order 2002 (Bank Rate on 31 December / 30
  June + 8 %, fixed for the debt; £40 / £70 / £100);
- ECB key rates: MRO 3.15 % from 2024-12-18, 2.15 % from 2025-06-11 (unchanged to 2026);
  Bank of England Bank Rate 4.75 % from 2024-11-07.
Interest = principal × rate × days / 365, rounded once, half up, to the cent.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from hub.errors import ConfigError, PermanentError
from hub.law import claim, load, pack_for

d = dt.date
RATES = load()


def run(pack, principal, due, on, currency="EUR", **kw):
    return claim(pack, principal=Decimal(principal), currency=currency, due=due, on=on,
                 rates=RATES, **kw)


def test_france_the_issue_s_worked_example():
    # 10,000 × 13.15 % × 92 / 365 = 331.452… → 331.45; + 40
    c = run("fr", "10000", d(2025, 3, 1), d(2025, 6, 1))
    assert (c.days_late, c.rate_percent, c.interest, c.fixed_compensation, c.total) == (
        92, Decimal("13.15"), Decimal("331.45"), Decimal("40.00"), Decimal("10371.45"))


def test_france_each_half_year_bears_its_own_rate():
    # 29 days (2–30 June) at 13.15 % + 32 days (1 July–1 August) at 12.15 %:
    # 10,000 × (0.1315 × 29 + 0.1215 × 32) / 365 = 77,015 / 365 = 211.00
    c = run("fr", "10000", d(2025, 6, 1), d(2025, 8, 1))
    assert [(p["days"], p["rate_percent"]) for p in c.periods] == [(29, "13.15"), (32, "12.15")]
    assert c.rate_percent is None and c.interest == Decimal("211.00")


def test_germany_business_debtor_base_rate_plus_nine_and_the_lump_sum():
    # 60 days at 2.27 + 9 = 11.27 %: 5,000 × 0.1127 × 60 / 365 = 92.630… → 92.63; + 40
    c = run("de", "5000", d(2025, 1, 15), d(2025, 3, 16))
    assert (c.days_late, c.rate_percent, c.interest, c.total) == (
        60, Decimal("11.27"), Decimal("92.63"), Decimal("5132.63"))


def test_germany_consumer_base_rate_plus_five_and_no_lump_sum():
    # 30 days at 1.27 + 5 = 6.27 %: 1,000 × 0.0627 × 30 / 365 = 5.153… → 5.15
    c = run("de", "1000", d(2025, 7, 10), d(2025, 8, 9), customer_type="consumer")
    assert (c.rate_percent, c.interest, c.fixed_compensation) == (
        Decimal("6.27"), Decimal("5.15"), Decimal("0.00"))


def test_uk_bank_rate_on_31_december_plus_eight_and_the_banded_fixed_sum():
    # overdue from 11 Feb 2025: Bank Rate on 31 Dec 2024 4.75 % + 8 = 12.75 %;
    # 8,000 × 0.1275 × 90 / 365 = 251.506… → 251.51; £70 (under £10,000)
    c = run("gb", "8000", d(2025, 2, 10), d(2025, 5, 11), currency="GBP")
    assert (c.days_late, c.rate_percent, c.interest, c.fixed_compensation, c.total) == (
        90, Decimal("12.75"), Decimal("251.51"), Decimal("70.00"), Decimal("8321.51"))


def test_uk_the_rate_stays_fixed_when_the_debt_runs_into_the_next_half_year():
    # overdue from 21 June 2025: 12.75 % for all 30 days (not 4.25 + 8 from July):
    # 500 × 0.1275 × 30 / 365 = 5.239… → 5.24; £40 (under £1,000)
    c = run("gb", "500", d(2025, 6, 20), d(2025, 7, 20), currency="GBP")
    assert (c.rate_percent, c.interest, c.fixed_compensation) == (
        Decimal("12.75"), Decimal("5.24"), Decimal("40.00"))
    assert run("gb", "10000", d(2025, 2, 10), d(2025, 3, 1),
               currency="GBP").fixed_compensation == Decimal("100.00")


def test_eu_directive_for_another_member_state():
    # Belgium: 60 days at 2.15 + 8 = 10.15 %: 2,000 × 0.1015 × 60 / 365 = 33.369… → 33.37; + 40
    assert pack_for("BE") == "eu" and pack_for("US") is None
    c = run("eu", "2000", d(2025, 12, 1), d(2026, 1, 30))
    assert (c.interest, c.fixed_compensation, c.total) == (
        Decimal("33.37"), Decimal("40.00"), Decimal("2073.37"))


def test_rounding_is_half_up_once_at_the_end_and_an_invoice_rate_overrides_the_pack():
    # 182.50 × 1 % × 1 / 365 = 0.005 exactly → 0.01 (half up, not half even)
    c = run("fr", "182.50", d(2025, 3, 1), d(2025, 3, 2), own_rate=Decimal(1))
    assert c.interest == Decimal("0.01") and "own rate" in c.law


def test_a_consumer_under_a_business_only_law_is_refused():
    with pytest.raises(PermanentError, match="business debtors only"):
        run("fr", "100", d(2025, 3, 1), d(2025, 4, 1), customer_type="consumer")


def test_a_rate_not_yet_known_is_refused_until_the_workspace_adds_it(tmp_path):
    with pytest.raises(ConfigError, match=r"law/rates\.yaml") as err:
        run("fr", "1000", d(2026, 6, 1), d(2026, 8, 1))
    assert "2026-07-01" in str(err.value)
    (tmp_path / "law").mkdir()
    (tmp_path / "law" / "rates.yaml").write_text(
        "ecb_mro:\n  rates:\n    - {from: 2026-06-10, rate: \"2.00\"}\n  known_until: 2026-12-31\n")
    c = claim("fr", principal=Decimal(1000), currency="EUR", due=d(2026, 6, 1),
              on=d(2026, 8, 1), rates=load(tmp_path))
    # 29 days at 12.15 % + 32 days at 12.00 %: (121.5 × 29 + 120 × 32) / 365 = 20.175… → 20.17
    assert [p["rate_percent"] for p in c.periods] == ["12.15", "12.00"]
    assert c.interest == Decimal("20.17")


def test_a_malformed_workspace_rates_file_is_refused_naming_it(tmp_path):
    (tmp_path / "law").mkdir()
    (tmp_path / "law" / "rates.yaml").write_text("ecb_mro:\n  rates:\n    - {from: soon, rate: x}\n")
    with pytest.raises(ConfigError) as err:
        load(tmp_path)
    assert "law/rates.yaml" in str(err.value) and "rate #1" in str(err.value)
