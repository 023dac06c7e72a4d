"""One export row → records, with the column layout resolved once per file.

A large export is mostly this loop, so the per-row work is kept to C-level steps: one
`itemgetter` pulls every mapped cell, amounts and dates take a fast path for the plain
forms (`1234,56`, `24/11/2026`) and fall back to the forgiving parsers otherwise.
"""

from __future__ import annotations

import operator

from hub.contracts import Address, CustomerRecord, InvoiceRecord
from plugins.csv.parsing import parse_date, parse_decimal

# Order of the cells `RowReader` extracts; a field the file lacks reads as "".
FIELDS = ("number", "customer_name", "customer_id", "currency", "amount_due", "total",
          "due_date", "issue_date", "promised_until", "status", "disputed", "invoice_id")
CUSTOMER_FIELDS = ("customer_code", "email", "phone", "mobile", "language", "segment", "tags",
                   "address_line1", "address_line2", "city", "postcode", "country")
NO_ADDRESS = Address()
TRUE = {"1", "true", "yes", "y", "oui", "x", "disputed", "litige"}
DEFAULT_STATUS = {"paid": "paid", "payée": "paid", "payee": "paid", "settled": "paid",
                  "void": "void", "voided": "void", "cancelled": "void", "annulée": "void",
                  "annulee": "void", "deleted": "void"}


class RowReader:
    """Records from the rows of one file whose header has been mapped to `header`."""

    def __init__(self, settings, header: dict[str, int], width: int):
        self.width = width
        # a missing column points at the blank cell appended to every row
        self.cells = operator.itemgetter(*(header.get(f, width) for f in FIELDS))
        self.customer_cells = operator.itemgetter(*(header.get(f, width) for f in CUSTOMER_FIELDS))
        self.decimal = settings.decimal
        self.formats = tuple(settings.date_formats)
        self.default_currency = settings.default_currency.upper()
        self.status_map = {**DEFAULT_STATUS,
                           **{k.lower(): v for k, v in settings.status_values.items()}}
        self.seen: set[str] = set()

    def _amount(self, field: str, text: str):
        try:
            return parse_decimal(text, self.decimal)
        except ValueError as exc:
            raise ValueError(f"{field}|{exc}") from None

    def _date(self, field: str, text: str):
        try:
            return parse_date(text, self.formats)
        except ValueError as exc:
            raise ValueError(f"{field}|{exc}") from None

    def records(self, row: list[str]) -> tuple:
        """() for a blank line, (invoice,) or (customer, invoice) the first time a customer
        appears; raises ValueError("field|reason") for a bad row."""
        if len(row) != self.width:
            row = (row + [""] * self.width)[:self.width]
        row.append("")
        (number, name, cust_id, currency, amount_due, total, due, issue, promised, status,
         disputed, invoice_id) = map(str.strip, self.cells(row))
        if not number:
            if not any(c.strip() for c in row):
                return ()  # a blank line
            raise ValueError("number|number is empty")
        if not name:
            raise ValueError("customer_name|customer_name is empty")
        cust_id = cust_id or name
        currency = currency.upper() or self.default_currency
        if len(currency) != 3 or not currency.isalpha():
            raise ValueError(f"currency|{currency!r} is not an ISO 4217 currency code")
        if not amount_due:
            raise ValueError("amount_due|amount_due is empty")
        due_text, amount_due = amount_due, self._amount("amount_due", amount_due)
        # an unpaid invoice's total is usually the same text: parsed once
        total = amount_due if not total or total == due_text else self._amount("total", total)
        if not due:
            raise ValueError("due_date|due_date is empty")
        due = self._date("due_date", due)
        issue = self._date("issue_date", issue) if issue else None
        promised = self._date("promised_until", promised) if promised else None
        status = self.status_map.get(status.lower(), "open")
        if status not in ("open", "paid", "void"):
            raise ValueError(f"status|status_values maps to {status!r}; use open, paid or void")
        # every value is parsed and checked above: no second validation pass
        invoice = InvoiceRecord.trusted(
            external_id=invoice_id or number, customer_external_id=cust_id, number=number,
            currency=currency, total=total, amount_due=amount_due, issue_date=issue,
            due_date=due, status=status, disputed=disputed.lower() in TRUE,
            promised_until=promised)
        if cust_id in self.seen:
            return (invoice,)
        self.seen.add(cust_id)
        return self._customer(cust_id, name, row), invoice

    def _customer(self, cust_id: str, name: str, row: list[str]) -> CustomerRecord:
        (code, email, phone, mobile, language, segment, tags, line1, line2, city, postcode,
         country) = map(str.strip, self.customer_cells(row))
        address = NO_ADDRESS if not (line1 or line2 or city or postcode or country) else \
            Address.trusted(line1=line1 or None, line2=line2 or None, city=city or None,
                            postcode=postcode or None, country=country.upper() or None)
        # every value is a str or None as read: no validation pass (see InvoiceRecord)
        return CustomerRecord.trusted(
            external_id=cust_id, name=name, code=code or None, email=email or None,
            phone=phone or None, mobile=mobile or None, language=language or None,
            segment=segment or None,
            tags=tuple(t.strip() for t in tags.replace(";", ",").split(",") if t.strip()),
            address=address)
