"""What webhooks tell us, applied to the store: deliveries, payments, ledger changes."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select, update

from hub.clock import utcnow
from hub.contracts import DeliveryUpdate, LedgerChanged, PaymentReceived
from hub.send import outbox
from hub.store.db import session
from hub.store.events import record_event
from hub.store.models import (
    Connection,
    Dispatch,
    DispatchInvoice,
    Invoice,
    PaymentLinkRow,
    PaymentWriteback,
    WebhookEvent,
)
from hub.store.records import inserted
from hub.workspace import Workspace

log = logging.getLogger("relance.feedback")


def apply_delivery(ws: Workspace, ev: DeliveryUpdate) -> bool:
    with session(ws.engine, immediate=True) as s:
        d = s.execute(select(Dispatch).where(Dispatch.provider_ref == ev.provider_ref)).scalars().first()
        if d is None:
            log.warning("delivery update for unknown provider reference %s", ev.provider_ref)
            return False
        # the provider has it: a dispatch left uncertain was sent (compare-and-set: a
        # resolver that moved it meanwhile wins, and this only records the delivery)
        settled = outbox.record_delivery(s, d.id, ev.status, ev.at)
        level = "warning" if ev.status in ("failed", "undelivered", "returned") else "info"
        record_event(s, "delivery", f"{d.channel}: {ev.status}" + (f" ({ev.detail})" if ev.detail else ""),
                     level=level, dispatch_id=d.id, customer_id=d.customer_id,
                     data={"status": ev.status, "tracking": dict(ev.tracking), "detail": ev.detail,
                           "settled_uncertain": settled})
    return True


def _invoices_by_ref(s, refs: Iterable[str]) -> list[tuple[Invoice, str]]:
    out = []
    for ref in refs:
        conn, _, ext = ref.partition(":")
        row = s.execute(select(Invoice, Connection.name).join(
            Connection, Connection.id == Invoice.connection_id).where(
            Connection.name == conn, Invoice.external_id == ext)).first()
        if row:
            out.append((row[0], row[1]))
    return out


def _invoices_of_link(s, provider_ref: str) -> list[tuple[Invoice, str]]:
    """The invoices a payment link was created for (the hub keeps that mapping)."""
    link = s.execute(select(PaymentLinkRow).where(
        PaymentLinkRow.provider_ref == provider_ref)).scalars().first()
    if link is None:
        return []
    ids = [int(x) for x in link.invoice_key.split(",") if x]
    return [(inv, name) for inv, name in s.execute(select(Invoice, Connection.name).join(
        Connection, Connection.id == Invoice.connection_id).where(Invoice.id.in_(ids))).all()]


async def apply_payment(ws: Workspace, ev: PaymentReceived, source: str = "") -> int:
    """Hold the invoices the payment covers as paid at once — "paid, pending the ledger":
    no sync or fresh-check that still reads them open can bring the reminders back — until
    the ledger shows the payment. Where the connection records payments, queue each
    invoice's share (what was paid towards it, oldest due first) to be written exactly once.
    A replayed event (same `event_id` from the same `source`) is applied once. Returns the
    invoices held."""
    now = ev.at or utcnow()
    with session(ws.engine, immediate=True) as s:
        if ev.event_id and not _first_time(s, source, ev.event_id):
            log.info("payment event %s from %s already applied", ev.event_id, source or "?")
            return 0
        found = _invoices_by_ref(s, ev.invoice_refs) if ev.invoice_refs else \
            _invoices_of_link(s, ev.provider_ref)
        found = sorted((f for f in found if f[0].status == "open"
                        and f[0].hub_paid_ref != ev.provider_ref),
                       key=lambda f: (f[0].due_date, f[0].id))
        # an amount in another currency, or none, cannot be shared out: hold, record nothing
        left = ev.amount if ev.amount > 0 and all(
            inv.currency == ev.currency for inv, _ in found) else None
        held = queued = 0
        for inv, conn in found:
            share = inv.amount_due if left is None else min(left, inv.amount_due)
            if left is not None:
                left -= share
            data = {"amount": str(ev.amount), "currency": ev.currency, "event_id": ev.event_id,
                    "share": str(share)}
            if share < inv.amount_due:  # a part payment: still owed, so not held
                record_event(s, "payment", f"{share} {ev.currency} of {inv.amount_due} paid "
                             f"through {ev.provider_ref} on invoice {inv.number}: the rest is "
                             "still owed", invoice_id=inv.id, customer_id=inv.customer_id,
                             data=data)
            else:
                s.execute(update(Invoice).where(Invoice.id == inv.id).values(
                    hub_paid_at=now, hub_paid_ref=ev.provider_ref))
                held += 1
                data["pending_dispatches"] = s.execute(select(Dispatch.id).join(
                    DispatchInvoice, DispatchInvoice.dispatch_id == Dispatch.id).where(
                    DispatchInvoice.invoice_id == inv.id,
                    Dispatch.status.in_(outbox.PENDING))).scalars().all()
                record_event(s, "payment", f"paid through {ev.provider_ref}: invoice "
                             f"{inv.number} (held as paid until the ledger records it)",
                             invoice_id=inv.id, customer_id=inv.customer_id, data=data)
            queued += _queue_writeback(ws, s, inv, conn, share if left is not None else None,
                                       ev.currency, now, ev.provider_ref)
    if queued:  # written by the writeback job (serve) or the next send pass (run), not
        # here: a webhook is answered at once, whatever the ledger's latency
        log.info("%d payment(s) queued for the ledger", queued)
    return held


def _queue_writeback(ws: Workspace, s, inv: Invoice, conn: str, share, currency: str, now,
                     reference: str) -> int:
    """Queue this invoice's share for the ledger (once: unique per invoice and payment)."""
    cfg = ws.config.connections.get(conn)
    if not (cfg and cfg.record_payments):
        return 0
    if not ws.plugin_class("connector", conn).supports_payments_writeback:
        record_event(s, "payment_writeback", f"{conn} cannot record payments: record the "
                     f"payment on invoice {inv.number} in the ledger", level="warning",
                     invoice_id=inv.id)
        return 0
    if share is None or share <= 0:
        record_event(s, "payment_writeback", f"the amount paid on invoice {inv.number} is not "
                     f"known in {inv.currency}: record the payment in {conn} by hand",
                     level="warning", invoice_id=inv.id)
        return 0
    return int(inserted(s, PaymentWriteback, invoice_id=inv.id, amount=share,
                        currency=currency, paid_on=now.date(), reference=reference,
                        status="pending", attempts=0, next_attempt_at=utcnow()))


def _first_time(s, source: str, event_id: str) -> bool:
    """Remember the event; False when it was applied before (a replay)."""
    return inserted(s, WebhookEvent, source=source, event_id=event_id, at=utcnow())


def ledger_changed(ws: Workspace, connection: str, ev: LedgerChanged, trigger) -> None:
    log.info("connection %s: ledger changed (%d ids): syncing now", connection, len(ev.external_ids))
    trigger(f"sync:{connection}")
