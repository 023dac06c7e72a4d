"""Export rows → records, with the column layout resolved once per file.

A page of rows is first read column by column (`columns`: the per-cell work in C); a
page where a cell is wrong or unusual is read row by row, which names the file:line
and column of each problem while the other rows import.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision

from hub.contracts import (
    Address,
    CustomerRecord,
    InvoiceRecord,
    RecordProblem,
    country_code,
    is_currency,
)
from plugins.csv import columns
from plugins.csv.parsing import parse_date, parse_decimal

# Order of the cells `RowReader` extracts; a field the file lacks reads as "".
FIELDS = ("number", "customer_name", "customer_id", "currency", "amount_due", "total",
          "due_date", "issue_date", "promised_until", "status", "disputed", "invoice_id",
          "interest_rate")
CUSTOMER_FIELDS = ("customer_code", "email", "phone", "mobile", "language", "segment", "tags",
                   "address_line1", "address_line2", "city", "postcode", "country",
                   "customer_type")
CONSUMER = {"consumer", "b2c", "private", "individual", "particulier", "privé", "prive",
            "verbraucher", "privat"}
NO_ADDRESS = Address()
# the fields a row sets, in the order `make_invoice` takes them
INVOICE_FIELDS = ("external_id", "customer_external_id", "number", "currency", "total",
                  "amount_due", "issue_date", "due_date", "status", "disputed", "promised_until",
                  "late_interest_rate")
make_invoice = InvoiceRecord.maker(*INVOICE_FIELDS)
make_customer = CustomerRecord.maker("external_id", "name", "code", "email", "phone", "mobile",
                                     "language", "segment", "tags", "address", "customer_type")
TRUE = {"1", "true", "yes", "y", "oui", "x", "disputed", "litige"}
DEFAULT_STATUS = {"paid": "paid", "payée": "paid", "payee": "paid", "settled": "paid",
                  "void": "void", "voided": "void", "cancelled": "void", "annulée": "void",
                  "annulee": "void", "deleted": "void"}


class RowReader:
    """Records from the rows of one file whose header has been mapped to `header`."""

    def __init__(self, settings, header: dict[str, int], width: int, *,
                 place: Callable[[int, str], str] = lambda line, field: f"{line}:{field}",
                 date_formats: Sequence[str] | None = None):
        self.width, self.header, self.place = width, header, place
        # a missing column points at the blank cell appended to every row
        self.cells = operator.itemgetter(*(header.get(f, width) for f in FIELDS))
        self.customer_cells = operator.itemgetter(*(header.get(f, width) for f in CUSTOMER_FIELDS))
        self.decimal = settings.decimal
        self.formats = tuple(date_formats or settings.date_formats)
        self.default_currency = settings.default_currency.upper()
        self.status_map = {**DEFAULT_STATUS,
                           **{k.lower(): v for k, v in settings.status_values.items()}}
        self.seen: set[str] = set()
        self.known_dates: dict = {}
        self.known_places: dict[str, int] = {}

    def page(self, lines: Sequence[int], rows: Sequence[list[str]]) -> list:
        """The records (and problems) of consecutive rows; `lines` their line numbers."""
        fast = self._columns(rows)
        if fast is not None:
            return fast
        items: list = []
        for line, row in zip(lines, rows, strict=True):
            try:
                items += self.records(row)
            except ValueError as exc:
                field, _, reason = str(exc).partition("|")
                items.append(RecordProblem(place=self.place(line, field), reason=reason or field))
        return items

    def _columns(self, rows: Sequence[list[str]]) -> list | None:
        """The page read column by column, or None if a row needs the row-by-row reader
        (a wrong cell, a blank line, a row of another width)."""
        n = len(rows)
        if not n or set(map(len, rows)) != {self.width}:
            return None
        table = [tuple(map(str.strip, col)) for col in zip(*rows, strict=True)]
        blank = ("",) * n

        def col(field: str) -> tuple[str, ...]:
            i = self.header.get(field)
            return blank if i is None else table[i]

        numbers, names, cust_ids = col("number"), col("customer_name"), col("customer_id")
        if "" in numbers or "" in names:
            return None
        if "" in cust_ids:
            cust_ids = tuple(c or name for c, name in zip(cust_ids, names, strict=True))
        due_texts, total_texts = col("amount_due"), col("total")
        currencies = columns.mapped(col("currency"), self._currency)
        if currencies is None:
            return None
        places = list(map(self._places, currencies))
        dues = columns.amounts(due_texts, self.decimal, places)
        due_dates = columns.dates(col("due_date"), self.formats, self.known_dates,
                                  optional=False)
        issues = columns.dates(col("issue_date"), self.formats, self.known_dates,
                               optional=True)
        promised = columns.dates(col("promised_until"), self.formats, self.known_dates,
                                 optional=True)
        statuses = columns.mapped(col("status"), self._status)
        if None in (dues, due_dates, issues, promised, statuses):
            return None
        totals = self._totals(total_texts, due_texts, dues, places)
        if totals is None:
            return None
        disputed = columns.mapped(col("disputed"), lambda t: t.lower() in TRUE)
        ids = col("invoice_id")
        external_ids = numbers if ids is blank else tuple(
            i or number for i, number in zip(ids, numbers, strict=True))
        rates = col("interest_rate")
        if rates is blank:
            rates = (None,) * n
        else:
            try:
                rates = tuple(_rate(t) if t else None for t in rates)
            except ValueError:  # the row reader names the line
                return None
        items: list = self._new_customers(cust_ids, names, rows)
        items += map(make_invoice, external_ids, cust_ids, numbers, currencies, totals, dues,
                     issues, due_dates, statuses, disputed, promised, rates)
        return items

    def _totals(self, texts, due_texts, dues, places) -> list | None:
        """An invoice's total is usually the text of its amount due: the same Decimal."""
        if texts == due_texts:
            return dues
        differ = [i for i, (t, d) in enumerate(zip(texts, due_texts, strict=True)) if t and t != d]
        parsed = columns.amounts([texts[i] for i in differ], self.decimal,
                                 [places[i] for i in differ])
        if parsed is None:
            return None
        totals = list(dues)
        for i, value in zip(differ, parsed, strict=True):
            totals[i] = value
        return totals

    def _new_customers(self, cust_ids, names, rows) -> list[CustomerRecord]:
        """A customer from the first row that names it (as the row-by-row reader does)."""
        first = dict(zip(reversed(cust_ids), range(len(cust_ids) - 1, -1, -1), strict=True))
        rows_of_new = sorted(i for c, i in first.items() if c not in self.seen)
        self.seen.update(first)
        return [self._customer(cust_ids[i], names[i], rows[i] + [""]) for i in rows_of_new]

    def _currency(self, text: str) -> str | None:
        code = text.upper() or self.default_currency
        return code if is_currency(code) else None

    def _status(self, text: str) -> str | None:
        status = self.status_map.get(text.lower(), "open")
        return status if status in ("open", "paid", "void") else None

    def _places(self, currency: str) -> int:
        """The currency's decimals (2 for one Babel does not know)."""
        places = self.known_places.get(currency)
        if places is None:
            places = self.known_places[currency] = get_currency_precision(currency)
        return places

    def _amount(self, field: str, text: str, currency: str):
        try:
            return parse_decimal(text, self.decimal, places=self._places(currency))
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
         disputed, invoice_id, rate) = map(str.strip, self.cells(row))
        if not number:
            if not any(c.strip() for c in row):
                return ()  # a blank line
            raise ValueError("number|number is empty")
        if not name:
            raise ValueError("customer_name|customer_name is empty")
        cust_id = cust_id or name
        code = self._currency(currency)
        if code is None:
            raise ValueError(f"currency|{currency.upper()!r} is not an ISO 4217 currency code")
        currency = code
        if not amount_due:
            raise ValueError("amount_due|amount_due is empty")
        due_text, amount_due = amount_due, self._amount("amount_due", amount_due, currency)
        # an unpaid invoice's total is usually the same text: parsed once
        total = amount_due if not total or total == due_text else self._amount("total", total, currency)
        if not due:
            raise ValueError("due_date|due_date is empty")
        due = self._date("due_date", due)
        issue = self._date("issue_date", issue) if issue else None
        promised = self._date("promised_until", promised) if promised else None
        mapped = self._status(status)
        if mapped is None:
            raise ValueError(f"status|status_values maps {status!r} to "
                             f"{self.status_map[status.lower()]!r}; use open, paid or void")
        status = mapped
        # every value is parsed and checked above: no second validation pass
        invoice = make_invoice(invoice_id or number, cust_id, number, currency, total,
                               amount_due, issue, due, status, disputed.lower() in TRUE, promised,
                               _rate(rate) if rate else None)
        if cust_id in self.seen:
            return (invoice,)
        self.seen.add(cust_id)
        return self._customer(cust_id, name, row), invoice

    def _customer(self, cust_id: str, name: str, row: list[str]) -> CustomerRecord:
        (code, email, phone, mobile, language, segment, tags, line1, line2, city, postcode,
         country, kind) = map(str.strip, self.customer_cells(row))
        address = NO_ADDRESS if not (line1 or line2 or city or postcode or country) else \
            Address.trusted(line1=line1 or None, line2=line2 or None, city=city or None,
                            postcode=postcode or None, country=country_code(country))
        # every value is a str or None as read: no validation pass (see InvoiceRecord)
        return make_customer(
            cust_id, name, code or None, email or None, phone or None, mobile or None,
            language or None, segment or None,
            tuple(t.strip() for t in tags.replace(";", ",").split(",") if t.strip()) if tags
            else (), address, "consumer" if kind.lower() in CONSUMER else "business")


def _rate(text: str) -> Decimal:
    """A late-payment rate in percent a year: `9.5`, `9,5` or `9.5 %`."""
    try:
        value = Decimal(text.rstrip("% ").replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"interest_rate|{text!r} is not a rate: write 9.5 for 9.5 % a year") from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise ValueError(f"interest_rate|{text!r}: a rate is between 0 and 100 (percent a year)")
    return value
