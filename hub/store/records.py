"""Set-based writes of connector records into the store (upserts keyed by external id).

Used by the sync engine for every page and by the dispatcher's fresh-check, so a
record means the same thing whichever way it arrives. Hub-owned facts (a promise taken
on the phone, a hand-off to an agency) are never overwritten by a ledger record.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.clock import utcnow
from hub.contracts import CustomerRecord, InvoiceRecord, PaymentRecord, Tombstone
from hub.store.bulk import Converters, Lookup, Statement, Upsert, dialect_of, execute
from hub.store.models import Invoice, Payment
from hub.store.money import MONEY_SCALE

CHUNK = 400


def dialect_insert(session: Session, table):
    """`INSERT` with the dialect's `ON CONFLICT` clauses (SQLite and PostgreSQL share them)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def insert_ignore(session: Session, table):
    """`INSERT … ON CONFLICT DO NOTHING`; see `inserted` for whether the row was new."""
    return dialect_insert(session, table).on_conflict_do_nothing()


def inserted(session: Session, table, **values) -> bool:
    """Insert the row unless its key is there already; True when it was new. Told by
    `RETURNING`, not the row count, which psycopg reports as -1 for `ON CONFLICT DO
    NOTHING` (every Stripe event read as a replay on PostgreSQL)."""
    keys = list(table.__table__.primary_key.columns)
    stmt = insert_ignore(session, table).values(**values).returning(*keys)
    return session.execute(stmt).first() is not None


def _chunks(rows: Sequence, n: int = CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(rows), n):
        yield rows[i:i + n]


def _tags(tags: Iterable[str]) -> str | None:
    tags = [t.strip() for t in tags if t and t.strip()]
    return "," + ",".join(tags) + "," if tags else None


CUSTOMER_COLUMNS = ("connection_id", "external_id", "name", "code", "email", "cc_emails", "phone",
                    "mobile", "line1", "line2", "city", "postcode", "region", "country",
                    "language", "timezone", "segment", "tags", "tax_id", "customer_type",
                    "placeholder",
                    "on_hold", "updated_at")
_CUSTOMERS = Upsert("customer", CUSTOMER_COLUMNS, ("connection_id", "external_id"),
                    keep=("on_hold",))
_PLACEHOLDERS = Upsert("customer", ("connection_id", "external_id", "name", "placeholder",
                                    "on_hold", "updated_at"),
                       ("connection_id", "external_id"), nothing=True)

INVOICE_COLUMNS = ("connection_id", "external_id", "customer_id", "kind", "number", "currency",
                   "total", "amount_due", "issue_date", "due_date", "status", "disputed",
                   "promised_until", "reference", "online_url", "seen_generation",
                   "source_updated_at", "synced_at", "on_payment_plan", "in_collection",
                   "paid_at", "late_interest_rate")
_INVOICES = Upsert(
    "invoice", INVOICE_COLUMNS, ("connection_id", "external_id"),
    # the customer's id is looked up by SQLite/PostgreSQL, not by a round trip per page
    lookups={"customer_id": Lookup("customer", "external_id", scope="connection_id")},
    keep=("on_payment_plan", "in_collection"),
    # Hub-owned facts survive a ledger record: a dispute or promise recorded by a person
    # is sticky until a person clears it; `paid_at` is the first time we saw it paid.
    update={
        "disputed": "CASE WHEN excluded.disputed THEN excluded.disputed ELSE invoice.disputed END",
        "promised_until": "COALESCE(CASE WHEN invoice.promised_until > excluded.promised_until "
                          "THEN invoice.promised_until ELSE excluded.promised_until END, "
                          "invoice.promised_until)",
        "paid_at": "CASE WHEN excluded.status <> 'paid' THEN NULL WHEN invoice.paid_at IS NULL "
                   "THEN excluded.paid_at ELSE invoice.paid_at END",
    })

PAYMENT_COLUMNS = ("connection_id", "external_id", "invoice_external_id", "customer_external_id",
                   "amount", "currency", "date", "void")
_PAYMENTS = Upsert("payment", PAYMENT_COLUMNS, ("connection_id", "external_id"))


@dataclass
class Batch:
    """One kind of record of a page, as statements ready to run (see `prepare_*`)."""

    statements: list[Statement] = field(default_factory=list)
    count: int = 0
    problems: list[str] = field(default_factory=list)  # records left out, and why


def _unstorable(what: str, exc: Exception) -> str:
    """A record the store cannot keep as it is, named and skipped, with the fix aimed at
    whoever can make it: a float is the plugin's bug (it went through `trusted()`
    unvalidated); more decimals than the store keeps is the ledger's data."""
    if isinstance(exc, TypeError):
        return (f"{what}: {exc} — a bug in the connector plugin (it built the record with "
                "trusted() from a float): report it to the plugin's author (this record was "
                "not imported)")
    return (f"{what}: {exc}; the store keeps amounts to {MONEY_SCALE} decimal places: "
            "correct the amount in the ledger (this record was not imported)")


def write(session: Session, batch: Batch) -> int:
    for statement in batch.statements:
        execute(session, statement)
    return batch.count


def prepare_customers(dialect: str, connection_id: int, records: Sequence[CustomerRecord],
                      known: set[str] | None = None) -> Batch:
    """`known` (optional) collects the external ids now in the table, for `prepare_invoices`."""
    to = Converters(dialect)
    now = to.instant(utcnow())
    rows = [(
        r.external_id, r.name, r.code, r.email, ",".join(r.cc_emails) or None,
        r.phone, r.mobile, r.address.line1, r.address.line2, r.address.city, r.address.postcode,
        r.address.region, r.address.country, r.language, r.timezone, r.segment, _tags(r.tags),
        r.tax_id, r.customer_type, now,
    ) for r in {r.external_id: r for r in records}.values()]
    if known is not None:
        known.update(row[0] for row in rows)
    return Batch(_CUSTOMERS.statements(dialect, rows, fixed={
        "connection_id": connection_id, "placeholder": False, "on_hold": False}), len(rows))


def prepare_invoices(dialect: str, connection_id: int, records: Sequence[InvoiceRecord],
                     generation: int, known: set[str] | None = None) -> Batch:
    """`known`: customer external ids already in the table (skips their placeholder check)."""
    records = list({r.external_id: r for r in records}.values())
    if not records:
        return Batch()
    to = Converters(dialect)
    now = to.instant(utcnow())
    # customers the page refers to but that no record has described yet
    referred = {r.customer_external_id for r in records}
    if known is not None:
        referred -= known
        known |= referred
    placeholders = _PLACEHOLDERS.statements(dialect, [(e, e, now) for e in referred], fixed={
        "connection_id": connection_id, "placeholder": True, "on_hold": False})
    problems: list[str] = []
    try:
        columns = _invoice_columns(records, to, now)
    except (ValueError, TypeError):  # an amount the store cannot keep: name it, keep the rest
        records, problems = _storable(records, to)
        columns = _invoice_columns(records, to, now) if records else []
    invoices = _INVOICES.column_statements(dialect, columns, fixed={
        "connection_id": connection_id, "seen_generation": generation,
        "on_payment_plan": False, "in_collection": False})
    return Batch(placeholders + invoices, len(records), problems)


_INVOICE_FIELDS = operator.itemgetter(
    "external_id", "customer_external_id", "kind", "number", "currency", "total", "amount_due",
    "issue_date", "due_date", "status", "disputed", "promised_until", "reference", "online_url",
    "updated_at", "late_interest_rate")


def _invoice_columns(records: Sequence[InvoiceRecord], to: Converters,
                     now: object) -> list[Sequence]:
    """The columns of `_INVOICES`, each converted at once (the per-value work runs in C:
    a third of the time of a loop over records). Raises on an amount the store cannot keep."""
    (ids, customers, kinds, numbers, currencies, totals, dues, issued, due_dates, statuses,
     disputed, promised, references, urls, updated, rates) = zip(
        *map(_INVOICE_FIELDS, map(vars, records)), strict=True)
    due_units = to.money_column(dues)
    # an unpaid invoice's total is usually the same Decimal as its amount due
    total_units = due_units if totals == dues else to.money_column(totals)
    paid_at = list(map({"paid": now}.get, statuses))
    return [ids, customers, kinds, numbers, currencies, total_units, due_units,
            to.date_column(issued), to.date_column(due_dates), statuses,
            to.flag_column(disputed), to.date_column(promised), references, urls,
            to.instant_column(updated), [now] * len(ids), paid_at,
            to.money_column(rates) if any(r is not None for r in rates) else rates]


def _storable(records: Sequence[InvoiceRecord],
              to: Converters) -> tuple[list[InvoiceRecord], list[str]]:
    """The records whose amounts the store can keep, and a problem naming each other one."""
    kept, problems = [], []
    for r in records:
        try:
            to.money(r.amount_due), to.money(r.total)
        except (ValueError, TypeError) as exc:
            problems.append(_unstorable(f"invoice {r.number} (id {r.external_id})", exc))
        else:
            kept.append(r)
    return kept, problems


def prepare_payments(dialect: str, connection_id: int, records: Sequence[PaymentRecord]) -> Batch:
    to = Converters(dialect)
    rows, problems = [], []
    for r in {r.external_id: r for r in records}.values():
        try:
            amount = to.money(r.amount)
        except (ValueError, TypeError) as exc:
            problems.append(_unstorable(f"payment {r.external_id}", exc))
            continue
        rows.append((r.external_id, r.invoice_external_id, r.customer_external_id, amount,
                     r.currency, to.date(r.date), to.flag(r.void)))
    return Batch(_PAYMENTS.statements(dialect, rows, fixed={"connection_id": connection_id}),
                 len(rows), problems)


def upsert_customers(session: Session, connection_id: int, records: Sequence[CustomerRecord],
                     known: set[str] | None = None) -> int:
    return write(session, prepare_customers(dialect_of(session), connection_id, records, known))


def upsert_invoices(session: Session, connection_id: int, records: Sequence[InvoiceRecord],
                    generation: int, known: set[str] | None = None) -> int:
    return write(session, prepare_invoices(dialect_of(session), connection_id, records,
                                           generation, known))


def upsert_payments(session: Session, connection_id: int, records: Sequence[PaymentRecord]) -> int:
    return write(session, prepare_payments(dialect_of(session), connection_id, records))


def apply_tombstones(session: Session, connection_id: int, records: Sequence[Tombstone]) -> int:
    inv = [t.external_id for t in records if t.of == "invoice"]
    pay = [t.external_id for t in records if t.of == "payment"]
    for chunk in _chunks(inv):
        session.execute(update(Invoice).where(
            Invoice.connection_id == connection_id, Invoice.external_id.in_(chunk)
        ).values(status="void"))
    for chunk in _chunks(pay):
        session.execute(update(Payment).where(
            Payment.connection_id == connection_id, Payment.external_id.in_(chunk)
        ).values(void=True))
    return len(inv) + len(pay)


def settle_hub_payments(session: Session, connection_id: int) -> int:
    """Payments the hub learned of that the ledger now shows: the ledger is the truth again
    (a later reopening, a chargeback, is reminded as the ledger says)."""
    result = session.execute(update(Invoice).where(
        Invoice.connection_id == connection_id, Invoice.hub_paid_at.is_not(None),
        Invoice.status != "open").values(hub_paid_at=None, hub_paid_ref=None))
    return result.rowcount or 0


def close_unseen(session: Session, connection_id: int, generation: int) -> int:
    """After a complete snapshot: open invoices the export no longer lists are closed."""
    result = session.execute(update(Invoice).where(
        Invoice.connection_id == connection_id, Invoice.status == "open",
        Invoice.seen_generation < generation,
    ).values(status="closed", paid_at=utcnow()))
    return result.rowcount or 0
