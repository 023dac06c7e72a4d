"""QuickBooks Online objects → Relance records, as real companies fill them in.

Most customers have no `BillAddr.Country` (a US company's own customers): they take the
company's country (`CompanyInfo`). A document without `CurrencyRef` is in the home
currency (`Preferences.CurrencyPrefs`). Free-form addresses put the street and
"City, ST ZIP" in `Line2`–`Line4`. One payment over several invoices is split by its
lines' linked amounts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hub.contracts import Address, CustomerRecord, InvoiceRecord, PaymentRecord, Tombstone

CITY_LINE = re.compile(r"^(?P<city>[^,]+),\s*(?P<region>[A-Za-z]{2})\s+(?P<postcode>\d{5}(?:-\d{4})?)$")


@dataclass(frozen=True)
class Home:
    """The company's own country and home currency (for objects that leave them out)."""

    country: str | None
    currency: str


def money(v: Any) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(str(v or 0))


def needs_home(entity: str, o: dict) -> bool:
    if entity == "Customer":
        return not (o.get("BillAddr") or {}).get("Country")
    return o.get("status") != "Deleted" and not (o.get("CurrencyRef") or {}).get("value")


def ext(entity: str, qid: str) -> str:
    return f"CM{qid}" if entity == "CreditMemo" else qid  # ids are per entity in QBO


def records(entity: str, o: dict, home: Home | None) -> list[Any]:
    """The records one object gives (a payment over several invoices gives several)."""
    if o.get("status") == "Deleted":
        return [Tombstone(of={"Customer": "customer", "Payment": "payment"}.get(entity, "invoice"),
                          external_id=ext(entity, o["Id"]))]
    if entity == "Customer":
        return [customer(o, home)]
    currency = (o.get("CurrencyRef") or {}).get("value") or (home.currency if home else None)
    if entity == "Payment":
        return payments(o, currency)
    if entity == "CreditMemo":
        return [credit_memo(o, currency)]
    return [invoice(o, currency)]


def address(a: dict, home: Home | None) -> Address:
    lines = [a[k].strip() for k in ("Line1", "Line2", "Line3", "Line4", "Line5")
             if (a.get(k) or "").strip()]
    city, region, postcode = a.get("City"), a.get("CountrySubDivisionCode"), a.get("PostalCode")
    if not city and lines and (m := CITY_LINE.match(lines[-1])):  # free-form: "City, ST ZIP"
        city, region, postcode = m["city"].strip(), m["region"].upper(), m["postcode"]
        lines = lines[:-1]
    if not (lines or city or postcode):
        return Address()
    return Address(line1=lines[0] if lines else None,
                   line2=", ".join(lines[1:]) or None, city=city, region=region,
                   postcode=postcode, country=a.get("Country") or (home.country if home else None))


def customer(o: dict, home: Home | None) -> CustomerRecord:
    emails = [e.strip() for e in re.split(r"[,;]", (o.get("PrimaryEmailAddr") or {}).get(
        "Address") or "") if e.strip()]
    return CustomerRecord(
        external_id=o["Id"], name=o.get("DisplayName") or o.get("CompanyName") or o["Id"],
        email=emails[0] if emails else None, cc_emails=tuple(emails[1:]),
        phone=(o.get("PrimaryPhone") or {}).get("FreeFormNumber"),
        mobile=(o.get("Mobile") or {}).get("FreeFormNumber"),
        address=address(o.get("BillAddr") or {}, home),
        segment=o.get("PreferredDeliveryMethod"),
        tags=("inactive",) if o.get("Active") is False else (),
        updated_at=o.get("MetaData", {}).get("LastUpdatedTime"))


def payments(o: dict, currency: str | None) -> list[PaymentRecord]:
    """One record per invoice the payment pays, with that line's amount; a voided payment
    (QuickBooks zeroes it and notes "Voided") is void."""
    customer_id = (o.get("CustomerRef") or {}).get("value", "")
    voided = "voided" in (o.get("PrivateNote") or "").lower() and money(o.get("TotalAmt")) == 0
    lines = [(t["TxnId"], money(line.get("Amount"))) for line in o.get("Line", [])
             for t in line.get("LinkedTxn", []) if t.get("TxnType") == "Invoice"]
    common = {"customer_external_id": customer_id, "currency": currency, "date": o.get("TxnDate"),
              "void": voided}
    if len(lines) <= 1:
        return [PaymentRecord(external_id=o["Id"], invoice_external_id=lines[0][0] if lines else None,
                              amount=lines[0][1] if lines and not voided else money(o.get("TotalAmt")),
                              **common)]
    return [PaymentRecord(external_id=f"{o['Id']}:{txn}", invoice_external_id=txn, amount=amount,
                          **common) for txn, amount in lines]


def credit_memo(o: dict, currency: str | None) -> InvoiceRecord:
    left = money(o.get("RemainingCredit", o.get("Balance")))
    return InvoiceRecord(kind="credit_note", external_id=ext("CreditMemo", o["Id"]),
                         customer_external_id=(o.get("CustomerRef") or {}).get("value", ""),
                         number=o.get("DocNumber") or o["Id"], currency=currency,
                         total=money(o.get("TotalAmt")), amount_due=left,
                         issue_date=o.get("TxnDate"), due_date=o.get("TxnDate"),
                         status="open" if left > 0 else "paid",
                         updated_at=o.get("MetaData", {}).get("LastUpdatedTime"))


def invoice(o: dict, currency: str | None) -> InvoiceRecord:
    balance, total = money(o.get("Balance")), money(o.get("TotalAmt"))
    voided = "voided" in (o.get("PrivateNote") or "").lower() and total == 0
    return InvoiceRecord(
        external_id=o["Id"], customer_external_id=(o.get("CustomerRef") or {}).get("value", ""),
        number=o.get("DocNumber") or o["Id"], currency=currency, total=total, amount_due=balance,
        issue_date=o.get("TxnDate"), due_date=o.get("DueDate") or o.get("TxnDate"),
        status="void" if voided else ("paid" if balance <= 0 else "open"),
        online_url=o.get("InvoiceLink"), updated_at=o.get("MetaData", {}).get("LastUpdatedTime"))
