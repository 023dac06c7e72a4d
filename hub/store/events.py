"""The audit trail: one helper so every decision is written the same way."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from hub.clock import utcnow
from hub.store.models import Event

log = logging.getLogger("relance.events")


def record_event(session: Session, kind: str, message: str, *, level: str = "info",
                 connection_id: int | None = None, customer_id: int | None = None,
                 invoice_id: int | None = None, dispatch_id: int | None = None,
                 data: dict[str, Any] | None = None) -> None:
    session.add(Event(at=utcnow(), kind=kind, level=level, message=message,
                      connection_id=connection_id, customer_id=customer_id,
                      invoice_id=invoice_id, dispatch_id=dispatch_id, data=data or {}))
    log_event(kind, message, level=level, connection_id=connection_id, invoice_id=invoice_id,
              dispatch_id=dispatch_id)


def log_event(kind: str, message: str, *, level: str = "info", connection_id: int | None = None,
              invoice_id: int | None = None, dispatch_id: int | None = None) -> None:
    """The log line of an event (for events written by plain SQL, see `hub.send.outbox`)."""
    log.log(logging.WARNING if level in ("warning", "error") else logging.INFO,
            "%s %s", kind, message,
            extra={"event": kind, "dispatch_id": dispatch_id, "invoice_id": invoice_id,
                   "connection_id": connection_id})
