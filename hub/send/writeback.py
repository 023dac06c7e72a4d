"""Notes written back into the ledger after a send, retried apart from the send.

A write-back failure never blocks or repeats a send: the note waits in the
`writeback` table and is retried with backoff until it lands or gives up.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import select, update

from hub.clock import day_in, utcnow
from hub.contracts import LedgerNote
from hub.errors import AuthError, RelanceError, RetriableError
from hub.store.db import session
from hub.store.events import record_event
from hub.store.models import Connection, Customer, Dispatch, Invoice, Writeback
from hub.workspace import Workspace

log = logging.getLogger("relance.writeback")
MAX_ATTEMPTS = 8


def note_text(d: Dispatch, company: str, claim: dict | None = None) -> str:
    when = d.sent_at.strftime("%Y-%m-%d %H:%M UTC") if d.sent_at else ""
    text = (f"Relance: payment reminder sent {when} via {d.channel} "
            f"(scenario {d.scenario}, step {d.step}, template {d.template}) by {company}.")
    if claim:  # the claim stated on the original invoice, never a new invoice
        line = claim["lines"][0]
        text += (f" Claimed under {claim['law']} as of {claim['on']}: interest "
                 f"{line['interest']} {line['currency']} ({line['days_late']} days late), fixed "
                 f"compensation {line['fixed_compensation']} {line['currency']}.")
    return text


def _claim(ws: Workspace, conn: str, d: Dispatch, inv: Invoice, customer_type: str):
    from hub.send.claims import claims_for
    from hub.send.compose import step_config

    st = step_config(ws, d)
    if not (st and st.claim_fees and ws.config.connections[conn].writeback_claims):
        return None
    # the company's day of the send, as the notice counted it (not the UTC date: after
    # midnight in Paris the two differ, and so would the days late)
    on = day_in(d.sent_at or utcnow(), ws.config.company.timezone)
    try:
        return claims_for(ws, [inv], customer_type, on)
    except RelanceError:
        return None  # the reminder itself said why; the note still records it was sent


#: a note being written is not taken by another pass for this long (a dead worker's is retried)
LEASE = dt.timedelta(minutes=5)


def _claimed(ws: Workspace, wb: Writeback, at: dt.datetime) -> bool:
    """Take the note for this pass by compare-and-set: another worker's pass that read the
    same queue finds it leased and leaves it. One note at a time, just before its write:
    a whole batch leased at once could outlive its lease behind a paced ledger (Xero
    writes 60 notes a minute) and be taken, and written, a second time."""
    with session(ws.engine) as s:
        won = s.execute(update(Writeback).where(
            Writeback.id == wb.id, Writeback.status == "pending",
            Writeback.next_attempt_at <= at).values(next_attempt_at=at + LEASE)).rowcount == 1
    wb.next_attempt_at = at + LEASE
    return won


async def process_writebacks(ws: Workspace, *, now: Callable[[], dt.datetime] = utcnow,
                             limit: int = 500) -> tuple[int, int]:
    """Returns (written, failed) for this pass."""
    with session(ws.engine) as s:
        rows = s.execute(
            select(Writeback, Dispatch, Invoice, Connection.name, Customer.customer_type)
            .join(Dispatch, Dispatch.id == Writeback.dispatch_id)
            .join(Invoice, Invoice.id == Writeback.invoice_id)
            .join(Connection, Connection.id == Invoice.connection_id)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(Writeback.status == "pending", Writeback.next_attempt_at <= now())
            .limit(limit)).all()
    written = failed = 0
    for wb, d, inv, conn, customer_type in rows:
        if conn not in ws.config.connections or not _claimed(ws, wb, now()):
            continue
        text = note_text(d, ws.company.name, _claim(ws, conn, d, inv, customer_type))
        note = LedgerNote(invoice_external_id=inv.external_id, text=text,
                          channel=d.channel, template=d.template, sent_at=d.sent_at or now())
        try:
            await ws.connector(conn).write_note(note)
        except (RetriableError, AuthError, RelanceError, NotImplementedError) as exc:
            wb.attempts += 1
            delay = getattr(exc, "retry_after", None) or 60 * 2 ** min(wb.attempts, 8)
            wb.last_error = str(exc)[:500]
            wb.next_attempt_at = now() + dt.timedelta(seconds=delay)
            if wb.attempts >= MAX_ATTEMPTS or isinstance(exc, NotImplementedError):
                wb.status = "failed"
            failed += 1
            with session(ws.engine) as s:
                s.add(wb)
                record_event(s, "writeback_failed", f"note on invoice {inv.number}: {exc}",
                             level="warning", invoice_id=inv.id, dispatch_id=d.id)
            continue
        wb.status = "done"
        written += 1
        with session(ws.engine) as s:
            s.add(wb)
            record_event(s, "writeback", f"note written on invoice {inv.number} in {conn}",
                         invoice_id=inv.id, dispatch_id=d.id)
    return written, failed
