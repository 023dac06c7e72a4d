"""`Record.trusted`: the unvalidated constructor for connectors' hot loops."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from hub.contracts import Address, CustomerRecord, InvoiceRecord

FIELDS = dict(external_id="F1", customer_external_id="C1", number="F-1", currency="EUR",
              total=Decimal("10.00"), amount_due=Decimal("4.50"), due_date=dt.date(2026, 1, 31))


def test_trusted_equals_the_validated_record_defaults_included():
    rec = InvoiceRecord.trusted(**FIELDS)
    assert rec == InvoiceRecord(**FIELDS) and rec.status == "open" and rec.disputed is False
    assert rec.model_fields_set == set(FIELDS)  # as pydantic would report it
    cust = CustomerRecord.trusted(external_id="C1", name="Acme", address=Address.trusted(city="Lyon"))
    assert cust == CustomerRecord(external_id="C1", name="Acme", address=Address(city="Lyon"))


def test_trusted_refuses_unknown_and_missing_fields_by_name():
    with pytest.raises(TypeError, match=r"unknown \['amount'\]"):
        InvoiceRecord.trusted(**FIELDS, amount=Decimal(1))
    with pytest.raises(TypeError, match=r"missing \['due_date'\]"):
        InvoiceRecord.trusted(**{k: v for k, v in FIELDS.items() if k != "due_date"})


def test_trusted_records_are_independent():
    a, b = InvoiceRecord.trusted(**FIELDS), InvoiceRecord.trusted(**FIELDS)
    assert a.__dict__ is not b.__dict__ and a.model_fields_set is not b.model_fields_set


def test_a_maker_checks_its_field_names_once_and_builds_equal_records():
    make = InvoiceRecord.maker(*FIELDS)
    assert make is InvoiceRecord.maker(*FIELDS)  # generated once per class and field order
    assert make(*FIELDS.values()) == InvoiceRecord(**FIELDS)
    with pytest.raises(TypeError, match=r"unknown \['amount'\]"):
        InvoiceRecord.maker("amount", *FIELDS)
    with pytest.raises(TypeError, match="given twice"):
        InvoiceRecord.maker("number", *FIELDS)
    a, b = (CustomerRecord.maker("external_id", "name")("C1", "Acme") for _ in range(2))
    assert a.address == Address() and a.model_fields_set == {"external_id", "name"}
    assert a.model_copy(update={"email": "x@y.z"}).model_fields_set == {"external_id", "name", "email"}
    assert b.model_fields_set == {"external_id", "name"}  # the copy changed only its own set
