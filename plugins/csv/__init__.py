"""CSV / Excel connector: invoices (and their customers) from exports of any ledger.

One file or a folder of `.csv`/`.txt`/`.xlsx` files; headers mapped in config;
encodings, delimiters, decimal commas and date formats sniffed or configured. A bad row
is reported as file:line:column and skipped; the rest imports. An unchanged file is not
read again; with `complete_export: true` every run reads everything and the hub closes
open invoices the export no longer lists.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from hub.contracts import (
    Address,
    Connector,
    Cursor,
    CustomerRecord,
    InvoiceRecord,
    PluginSettings,
    RecordProblem,
    SyncPage,
)
from hub.hookspecs import hookimpl
from plugins.csv.parsing import (
    DEFAULT_DATE_FORMATS,
    csv_rows,
    parse_date,
    parse_decimal,
    xlsx_rows,
)

DEFAULT_COLUMNS = {
    "invoice_id": "invoice_id", "number": "invoice_number", "customer_id": "customer_id",
    "customer_name": "customer_name", "customer_code": "customer_code", "email": "email",
    "phone": "phone", "mobile": "mobile", "language": "language", "segment": "segment",
    "tags": "tags", "address_line1": "address", "address_line2": "address2", "city": "city",
    "postcode": "postcode", "country": "country", "currency": "currency", "total": "total",
    "amount_due": "amount_due", "issue_date": "issue_date", "due_date": "due_date",
    "status": "status", "disputed": "disputed", "promised_until": "promised_until",
}
REQUIRED = ("number", "customer_name", "amount_due", "due_date")
TRUE = {"1", "true", "yes", "y", "oui", "x", "disputed", "litige"}
DEFAULT_STATUS = {"paid": "paid", "payée": "paid", "payee": "paid", "settled": "paid",
                  "void": "void", "voided": "void", "cancelled": "void", "annulée": "void",
                  "annulee": "void", "deleted": "void"}


class CsvSettings(PluginSettings):
    path: str = Field(description="file or folder; relative to the workspace")
    pattern: list[str] = Field(["*.csv", "*.txt", "*.xlsx"], description="globs in a folder")
    delimiter: str = Field("auto", description="auto, ';', ',', 'tab'")
    encoding: str = Field("auto", description="auto (UTF-8 with or without BOM, else cp1252)")
    decimal: str = Field("auto", description="auto, '.' or ','")
    date_formats: list[str] = Field(list(DEFAULT_DATE_FORMATS))
    columns: dict[str, str] = Field(default_factory=dict, description="our field → your header")
    default_currency: str = "EUR"
    complete_export: bool = False
    status_values: dict[str, str] = Field(default_factory=dict)
    page_size: int = 5000


class CsvConnector(Connector):
    name = "csv"
    description = "Invoices from CSV or Excel exports"
    Settings: ClassVar = CsvSettings
    supports_incremental = True
    supports_refresh = True

    # ------------------------------------------------------------------ files
    def files(self) -> list[Path]:
        root = Path(self.settings.path)
        if not root.is_absolute():
            root = self.context.workspace / root
        if root.is_file():
            return [root]
        if root.is_dir():
            found = {p for pat in self.settings.pattern for p in root.glob(pat) if p.is_file()}
            return sorted(found)
        return []

    @staticmethod
    def fingerprint(path: Path) -> str:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()[:32]

    # ------------------------------------------------------------------ sync
    async def sync(self, cursor: Cursor) -> AsyncIterator[SyncPage]:
        files = self.files()
        if not files:
            yield SyncPage(records=(RecordProblem(
                place=self.settings.path,
                reason=f"no file found at {self.settings.path!r} (relative to "
                       f"{self.context.workspace}); fix `settings.path` of connection "
                       f"{self.context.name}"),))
            return
        seen = json.loads(cursor.get("files", "{}"))
        prints = {}
        for i, path in enumerate(files):
            key = path.name
            prints[key] = await asyncio.to_thread(self.fingerprint, path)
            if not self.settings.complete_export and seen.get(key) == prints[key]:
                continue  # unchanged since the last sync
            last_file = i == len(files) - 1
            async for page in self._pages(path):
                yield page
            if not last_file:
                yield SyncPage(cursor={"files": json.dumps({**seen, **prints}, sort_keys=True)})
        yield SyncPage(cursor={"files": json.dumps({**seen, **prints}, sort_keys=True)},
                       complete_snapshot=self.settings.complete_export)

    async def _pages(self, path: Path) -> AsyncIterator[SyncPage]:
        batch: list = []
        for item in self.read(path):
            batch.append(item)
            if len(batch) >= self.settings.page_size:
                yield SyncPage(records=tuple(batch))
                batch = []
                await asyncio.sleep(0)
        if batch:
            yield SyncPage(records=tuple(batch))

    async def refresh(self, external_ids: Sequence[str]) -> list[InvoiceRecord]:
        wanted = set(external_ids)

        def scan() -> list[InvoiceRecord]:  # file I/O off the event loop
            return [item for path in self.files() for item in self.read(path)
                    if isinstance(item, InvoiceRecord) and item.external_id in wanted]

        return await asyncio.to_thread(scan)

    # ------------------------------------------------------------------ rows
    def read(self, path: Path) -> Iterator:
        rows = xlsx_rows(path) if path.suffix.lower() in (".xlsx", ".xlsm") else \
            csv_rows(path, self.settings.encoding, self.settings.delimiter)
        header: dict[str, int] | None = None
        columns = {**DEFAULT_COLUMNS, **self.settings.columns}
        customers_seen: set[str] = set()
        for line, row in rows:
            if header is None:
                names = {(c or "").strip().lower().lstrip("\ufeff"): i for i, c in enumerate(row)}
                header = {field: names[h.strip().lower()] for field, h in columns.items()
                          if h and h.strip().lower() in names}
                missing = [f for f in REQUIRED if f not in header]
                if missing:
                    yield RecordProblem(place=f"{path.name}:{line}", reason=(
                        "missing column(s) " + ", ".join(f"{columns[f]!r}" for f in missing)
                        + f"; found {', '.join(repr(c) for c in row)}. Map them under "
                        f"`columns:` (e.g. columns: {{{missing[0]}: \"Your header\"}})"))
                    return
                continue
            if not any((c or "").strip() for c in row):
                continue
            try:
                yield from self.records(row, header, customers_seen)
            except ValueError as exc:
                field, _, reason = str(exc).partition("|")
                yield RecordProblem(place=f"{path.name}:{line}:{columns.get(field, field)}",
                                    reason=reason or field)

    def records(self, row: list[str], header: dict[str, int], seen: set[str]) -> Iterator:
        def get(field: str) -> str:
            i = header.get(field)
            return (row[i] if i is not None and i < len(row) else "") or ""

        def need(field: str, parse, *args):
            text = get(field).strip()
            if not text:
                raise ValueError(f"{field}|{field} is empty")
            try:
                return parse(text, *args)
            except ValueError as exc:
                raise ValueError(f"{field}|{exc}") from None

        s = self.settings
        number = need("number", str)
        name = need("customer_name", str)
        cust_id = get("customer_id").strip() or name
        currency = (get("currency").strip() or s.default_currency).upper()
        if len(currency) != 3 or not currency.isalpha():
            raise ValueError(f"currency|{currency!r} is not an ISO 4217 currency code")
        amount_due = need("amount_due", parse_decimal, s.decimal)
        total = need("total", parse_decimal, s.decimal) if get("total").strip() else amount_due
        formats = tuple(s.date_formats)
        due = need("due_date", parse_date, formats)
        issue = need("issue_date", parse_date, formats) if get("issue_date").strip() else None
        promised = need("promised_until", parse_date, formats) \
            if get("promised_until").strip() else None
        status_map = {**DEFAULT_STATUS, **{k.lower(): v for k, v in s.status_values.items()}}
        status = status_map.get(get("status").strip().lower(), "open")
        if status not in ("open", "paid", "void"):
            raise ValueError(f"status|status_values maps to {status!r}; use open, paid or void")
        # Every field is parsed and checked above, so records are built without a second
        # validation pass (model_construct): that halves the cost of a large import.
        if cust_id not in seen:
            seen.add(cust_id)
            yield CustomerRecord.model_construct(
                external_id=cust_id, name=name, code=get("customer_code").strip() or None,
                email=get("email").strip() or None, phone=get("phone").strip() or None,
                mobile=get("mobile").strip() or None,
                language=get("language").strip() or None, segment=get("segment").strip() or None,
                tags=tuple(t.strip() for t in get("tags").replace(";", ",").split(",") if t.strip()),
                address=Address.model_construct(line1=get("address_line1").strip() or None,
                                line2=get("address_line2").strip() or None,
                                city=get("city").strip() or None,
                                postcode=get("postcode").strip() or None,
                                country=(get("country").strip().upper() or None),
                                region=None),
                cc_emails=(), timezone=None, tax_id=None, updated_at=None, kind="customer")
        yield InvoiceRecord.model_construct(
            external_id=get("invoice_id").strip() or number, customer_external_id=cust_id,
            number=number, currency=currency, total=total, amount_due=amount_due,
            issue_date=issue, due_date=due, status=status,
            disputed=get("disputed").strip().lower() in TRUE, promised_until=promised,
            updated_at=None, kind="invoice", reference=None, online_url=None)

    async def check(self) -> list[str]:
        if not self.files():
            return [f"no file at {self.settings.path!r} (relative to {self.context.workspace})"]
        return []


@hookimpl
def register_connectors(register):
    register(CsvConnector)


__all__ = ["CsvConnector", "CsvSettings", "Decimal"]
