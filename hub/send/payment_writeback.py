"""Payments the hub learned of, recorded in the ledger exactly once (`record_payments: true`).

A payment is queued in the transaction that holds its invoice as paid, so it can be
neither lost nor queued twice. Each attempt first claims the row (`recording`, with a
lease); an attempt cut off mid-way — a crash, a timeout after the request left — may or
may not have reached the ledger: it is tried again with the same idempotency key only when
the connector declares `idempotent_payments`, and is otherwise failed for a person to
check, never recorded twice on a guess.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import select, update

from hub.clock import utcnow
from hub.contracts import LedgerPayment
from hub.errors import DeliveryUncertainError, RelanceError, RetriableError
from hub.store.db import installation_id, session
from hub.store.events import record_event
from hub.store.models import Connection, Invoice, PaymentWriteback
from hub.workspace import Workspace

log = logging.getLogger("relance.writeback")
MAX_ATTEMPTS = 8
LEASE = dt.timedelta(minutes=10)


def payment_key(installation: str, row_id: int) -> str:
    return f"rl-{installation}:pay:{row_id}"


async def process_payment_writebacks(ws: Workspace, *, now: Callable[[], dt.datetime] = utcnow,
                                     limit: int = 200) -> tuple[int, int]:
    """Record the due payments; returns (recorded, failed) for this pass."""
    due = (PaymentWriteback.status.in_(("pending", "recording"))
           & (PaymentWriteback.next_attempt_at <= now()))
    with session(ws.engine) as s:
        rows = s.execute(select(PaymentWriteback, Invoice, Connection.name)
                         .join(Invoice, Invoice.id == PaymentWriteback.invoice_id)
                         .join(Connection, Connection.id == Invoice.connection_id)
                         .where(due).order_by(PaymentWriteback.id).limit(limit)).all()
        installation = installation_id(s) if rows else ""
    recorded = failed = 0
    for row, inv, conn in rows:
        if conn not in ws.config.connections:
            continue
        cls = ws.plugin_class("connector", conn)
        if row.status == "recording" and not cls.idempotent_payments:
            _settle(ws, row, inv, "failed", "an earlier attempt was cut off and may have "
                    f"reached {conn}: check the ledger for {row.amount} {row.currency} "
                    f"({row.reference}) and record it by hand if it is missing", level="error")
            failed += 1
            continue
        if not _claim(ws, row, now()):
            continue  # another worker has it
        payment = LedgerPayment(invoice_external_id=inv.external_id, amount=row.amount,
                                currency=row.currency, date=row.paid_on, reference=row.reference,
                                idempotency_key=payment_key(installation, row.id))
        try:
            ref = await ws.connector(conn).record_payment(payment)
        except DeliveryUncertainError as exc:
            # it may have landed: only an idempotent connector may try again
            if cls.idempotent_payments:
                _retry(ws, row, inv, exc, now())
            else:
                _settle(ws, row, inv, "failed", f"{conn} may have recorded it ({exc}): check "
                        "the ledger and record it by hand if it is missing", level="error")
            failed += 1
        except (RetriableError, RelanceError, NotImplementedError) as exc:
            permanent = not isinstance(exc, RetriableError) or row.attempts + 1 >= MAX_ATTEMPTS
            if permanent:
                _settle(ws, row, inv, "failed", f"could not record the payment in {conn}: {exc}",
                        level="error")
            else:
                _retry(ws, row, inv, exc, now())
            failed += 1
        else:
            _settle(ws, row, inv, "done", f"payment of {row.amount} {row.currency} recorded in "
                    f"{conn} as {ref}", ledger_ref=ref)
            recorded += 1
    return recorded, failed


def _claim(ws: Workspace, row: PaymentWriteback, at: dt.datetime) -> bool:
    """pending (or a lapsed claim) → recording, compare-and-set: one worker per attempt."""
    with session(ws.engine, immediate=True) as s:
        res = s.execute(update(PaymentWriteback).where(
            PaymentWriteback.id == row.id, PaymentWriteback.status == row.status,
            PaymentWriteback.attempts == row.attempts,
            PaymentWriteback.next_attempt_at <= at).values(
            status="recording", attempts=row.attempts + 1, next_attempt_at=at + LEASE))
    row.attempts += 1
    return res.rowcount == 1


def _retry(ws: Workspace, row: PaymentWriteback, inv: Invoice, exc: Exception,
           at: dt.datetime) -> None:
    delay = getattr(exc, "retry_after", None) or 60 * 2 ** min(row.attempts, 8)
    with session(ws.engine) as s:
        s.execute(update(PaymentWriteback).where(PaymentWriteback.id == row.id).values(
            status="pending", last_error=str(exc)[:500],
            next_attempt_at=at + dt.timedelta(seconds=delay)))
        record_event(s, "payment_writeback_failed", f"payment on invoice {inv.number}: {exc} "
                     f"(attempt {row.attempts}; tried again in {delay:.0f} s)", level="warning",
                     invoice_id=inv.id)


def _settle(ws: Workspace, row: PaymentWriteback, inv: Invoice, status: str, message: str, *,
            level: str = "info", ledger_ref: str | None = None) -> None:
    with session(ws.engine) as s:
        s.execute(update(PaymentWriteback).where(PaymentWriteback.id == row.id).values(
            status=status, ledger_ref=ledger_ref,
            last_error=None if status == "done" else message[:500]))
        record_event(s, "payment_writeback", message, level=level, invoice_id=inv.id,
                     data={"amount": str(row.amount), "currency": row.currency,
                           "reference": row.reference, "status": status})
    (log.info if status == "done" else log.error)("%s", message)
