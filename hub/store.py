"""Set-based writes of connector records into the store (upserts keyed by external id).

Used by the sync engine for every page and by the dispatcher's fresh-check, so a
record means the same thing whichever way it arrives. Hub-owned facts (a promise taken
on the phone, a hand-off to an agency) are never overwritten by a ledger record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.contracts import CustomerRecord, InvoiceRecord, PaymentRecord, Tombstone
from hub.models import Customer, Invoice, Payment, utcnow

CHUNK = 400


def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _chunks(rows: Sequence, n: int = CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(rows), n):
        yield rows[i:i + n]


def _tags(tags: Iterable[str]) -> str | None:
    tags = [t.strip() for t in tags if t and t.strip()]
    return "," + ",".join(tags) + "," if tags else None


def upsert_customers(session: Session, connection_id: int, records: Sequence[CustomerRecord]) -> int:
    now = utcnow()
    rows = [{
        "connection_id": connection_id, "external_id": r.external_id, "name": r.name,
        "code": r.code, "email": r.email, "cc_emails": ",".join(r.cc_emails) or None,
        "phone": r.phone, "mobile": r.mobile, "line1": r.address.line1, "line2": r.address.line2,
        "city": r.address.city, "postcode": r.address.postcode, "region": r.address.region,
        "country": r.address.country, "language": r.language, "timezone": r.timezone,
        "segment": r.segment, "tags": _tags(r.tags), "tax_id": r.tax_id, "placeholder": False,
        "on_hold": False, "updated_at": now,
    } for r in {r.external_id: r for r in records}.values()]
    if rows:
        stmt = _insert(session, Customer.__table__)
        keep = {"connection_id", "external_id", "on_hold"}
        stmt = stmt.on_conflict_do_update(
            index_elements=["connection_id", "external_id"],
            set_={c: stmt.excluded[c] for c in rows[0] if c not in keep},
        )
        session.execute(stmt, rows)  # one cached statement, executemany
    return len(rows)


def customer_ids(session: Session, connection_id: int, external_ids: Iterable[str]) -> dict[str, int]:
    """Ids by external id, creating placeholders for customers not seen yet."""
    wanted = sorted(set(external_ids))
    found: dict[str, int] = {}
    for chunk in _chunks(wanted):
        found.update(session.execute(
            select(Customer.external_id, Customer.id).where(
                Customer.connection_id == connection_id, Customer.external_id.in_(chunk))).all())
    missing = [e for e in wanted if e not in found]
    if missing:
        now = utcnow()
        session.execute(_insert(session, Customer.__table__).on_conflict_do_nothing(), [
            {"connection_id": connection_id, "external_id": e, "name": e, "placeholder": True,
             "on_hold": False, "updated_at": now} for e in missing])
        for chunk in _chunks(missing):
            found.update(session.execute(
                select(Customer.external_id, Customer.id).where(
                    Customer.connection_id == connection_id, Customer.external_id.in_(chunk))).all())
    return found


def upsert_invoices(session: Session, connection_id: int, records: Sequence[InvoiceRecord],
                    generation: int) -> int:
    records = list({r.external_id: r for r in records}.values())
    if not records:
        return 0
    ids = customer_ids(session, connection_id, (r.customer_external_id for r in records))
    now = utcnow()
    rows = [{
        "connection_id": connection_id, "external_id": r.external_id,
        "customer_id": ids[r.customer_external_id], "kind": r.kind, "number": r.number,
        "currency": r.currency, "total": r.total, "amount_due": r.amount_due,
        "issue_date": r.issue_date, "due_date": r.due_date, "status": r.status,
        "disputed": r.disputed, "promised_until": r.promised_until, "reference": r.reference,
        "online_url": r.online_url, "seen_generation": generation,
        "source_updated_at": r.updated_at, "synced_at": now,
        "on_payment_plan": False, "in_collection": False, "dunning_level": -1,
        "paid_at": now if r.status == "paid" else None,
    } for r in records]
    inv = Invoice.__table__.c
    stmt = _insert(session, Invoice.__table__)
    ex = stmt.excluded
    set_ = {c: ex[c] for c in rows[0] if c not in
            {"connection_id", "external_id", "on_payment_plan", "in_collection", "paid_at",
             "disputed", "promised_until", "dunning_level"}}
    # Hub-owned facts survive a ledger record: a dispute or promise recorded by a person
    # is sticky until a person clears it; `paid_at` is the first time we saw it paid.
    set_["disputed"] = case((ex.disputed, True), else_=inv.disputed)
    set_["promised_until"] = func.coalesce(
        case((inv.promised_until > ex.promised_until, inv.promised_until),
             else_=ex.promised_until), inv.promised_until)
    set_["paid_at"] = case(
        (ex.status != "paid", None),
        (inv.paid_at.is_(None), ex.paid_at), else_=inv.paid_at)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["connection_id", "external_id"], set_=set_), rows)  # one executemany
    return len(rows)


def upsert_payments(session: Session, connection_id: int, records: Sequence[PaymentRecord]) -> int:
    rows = [{
        "connection_id": connection_id, "external_id": r.external_id,
        "invoice_external_id": r.invoice_external_id,
        "customer_external_id": r.customer_external_id, "amount": r.amount,
        "currency": r.currency, "date": r.date, "void": r.void,
    } for r in {r.external_id: r for r in records}.values()]
    if rows:
        stmt = _insert(session, Payment.__table__)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["connection_id", "external_id"],
            set_={c: stmt.excluded[c] for c in rows[0] if c not in ("connection_id", "external_id")}),
            rows)
    return len(rows)


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


def close_unseen(session: Session, connection_id: int, generation: int) -> int:
    """After a complete snapshot: open invoices the export no longer lists are closed."""
    result = session.execute(update(Invoice).where(
        Invoice.connection_id == connection_id, Invoice.status == "open",
        Invoice.seen_generation < generation,
    ).values(status="closed", paid_at=utcnow()))
    return result.rowcount or 0


def today_in(tz: str) -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(tz)).date()
