"""The `when:` language: safe, Decimal, and the same in Python and SQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, create_engine, insert, select

from hub.config.conditions import compile_check, evaluate, to_sql
from hub.errors import ConfigError
from hub.store.money import Money

TODAY = dt.date(2026, 11, 24)
ROWS = [
    {"id": 1, "amount_due": Decimal("999.99"), "currency": "EUR", "segment": "retail",
     "tags": ",vip,", "due_date": TODAY - dt.timedelta(days=10)},
    {"id": 2, "amount_due": Decimal("1000.00"), "currency": "EUR", "segment": None,
     "tags": None, "due_date": TODAY - dt.timedelta(days=40)},
    {"id": 3, "amount_due": Decimal("50"), "currency": "GBP", "segment": "key_account",
     "tags": ",slow,", "due_date": TODAY + dt.timedelta(days=3)},
]
EXPRESSIONS = [
    "amount_due < 1000",
    "amount_due >= 1000 or currency == 'GBP'",
    "currency in ['EUR', 'CHF'] and not segment == 'retail'",
    "'vip' in tags",
    "'vip' not in tags",
    "days_overdue > 30",
    "days_overdue <= 10 and days_overdue >= 0",
    "segment != 'retail'",
    "0 < amount_due < 100",
]


@pytest.fixture(scope="module")
def table():
    md = MetaData()
    t = Table("inv", md, Column("id", Integer, primary_key=True), Column("amount_due", Money()),
              Column("currency", String), Column("segment", String), Column("tags", String),
              Column("due_date", Date))
    engine = create_engine("sqlite://")
    md.create_all(engine)
    with engine.begin() as c:
        c.execute(insert(t), ROWS)
    return engine, t


def py_values(row):
    return {**row, "tags": tuple(filter(None, (row["tags"] or "").split(","))),
            "days_overdue": (TODAY - row["due_date"]).days}


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_sql_and_python_agree(table, expr):
    engine, t = table
    cols = {c.name: c for c in t.c}
    with engine.connect() as c:
        sql_ids = set(c.execute(select(t.c.id).where(to_sql(expr, "invoice", cols, TODAY))).scalars())
    py_ids = {r["id"] for r in ROWS if evaluate(expr, "invoice", py_values(r))}
    assert sql_ids == py_ids


def test_amounts_compare_as_decimal_not_float():
    assert evaluate("amount_due < 0.3", "invoice", {"amount_due": Decimal("0.1") + Decimal("0.2")}) is False


@pytest.mark.parametrize("expr,fragment", [
    ("__import__('os').system('x')", "not a condition"),
    ("amount_due.real > 1", "compare a field"),
    ("amount_due + 1 > 2", "compare a field"),
    ("colour == 'red'", "unknown field 'colour'"),
    ("amount_due < 'lots'", "is a number"),
    ("currency in 'EUR'", "needs a list"),
    ("amount_due <", "cannot parse"),
])
def test_unsafe_or_wrong_expressions_are_refused(expr, fragment):
    problems = compile_check(expr, "invoice")
    assert problems and fragment in problems[0]
    with pytest.raises(ConfigError):
        evaluate(expr, "invoice", {})


def test_customer_scope_has_no_invoice_fields():
    assert "unknown field 'amount_due'" in compile_check("amount_due > 1", "customer")[0]
