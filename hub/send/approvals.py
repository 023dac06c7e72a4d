"""Decisions a person takes on dispatches: approve planned ones, retry failed ones once the
cause is fixed, settle uncertain ones (one by one or many at once)."""

from __future__ import annotations

from sqlalchemy import select

from hub.clock import utcnow
from hub.errors import PermanentError
from hub.send import outbox
from hub.send.outbox import Status as S
from hub.store.db import session
from hub.store.events import record_event
from hub.store.models import Dispatch
from hub.workspace import Workspace


def _move(ws: Workspace, ids: list[int] | None, frm: S, to: S, why: str, kind: str,
          **values) -> int:
    """Every dispatch in `frm` (or these `ids` of them) to `to`, each by compare-and-set,
    each with its audit event."""
    with session(ws.engine, immediate=True) as s:
        q = select(Dispatch.id).where(Dispatch.status == frm)
        if ids is not None:
            q = q.where(Dispatch.id.in_(ids))
        n = 0
        for did in s.execute(q).scalars().all():
            if outbox.transition(s, did, frm, to, **values):
                record_event(s, kind, why, dispatch_id=did)
                n += 1
    return n


def approve(ws: Workspace, ids: list[int] | None) -> int:
    """planned → approved (`ids=None`: every planned dispatch)."""
    return _move(ws, ids, S.PLANNED, S.APPROVED, "approved by a person", "approved")


def retry(ws: Workspace, ids: list[int] | None) -> int:
    """failed → approved, attempts counted afresh (the cause is fixed): the next send pass
    takes them. `ids=None`: every failed dispatch."""
    return _move(ws, ids, S.FAILED, S.APPROVED, "sent again on a person's request "
                 "(relance retry)", "retry", not_before=None, attempts=0)


def uncertain(ws: Workspace, channel: str | None = None) -> list[dict]:
    """The dispatches a person must settle, with what they need to check with the provider:
    the recipient, the provider reference or Message-ID, and the idempotency key."""
    from hub.store.models import Customer

    with session(ws.engine) as s:
        q = select(Dispatch, Customer).join(Customer, Customer.id == Dispatch.customer_id).where(
            Dispatch.status == S.UNCERTAIN).order_by(Dispatch.id)
        if channel:
            q = q.where(Dispatch.channel == channel)
        return [{"id": d.id, "channel": d.channel, "step": f"{d.scenario}/{d.step}",
                 "customer": c.name, "recipient": c.email or c.mobile or c.phone,
                 "provider_ref": d.provider_ref, "idempotency_key": d.idempotency_key,
                 "since": d.updated_at, "error": d.last_error} for d, c in s.execute(q).all()]


def resolve(ws: Workspace, dispatch_id: int, choice: str) -> None:
    target = {"sent": "sent", "resend": "approved", "cancel": "cancelled"}[choice]
    with session(ws.engine, immediate=True) as s:
        d = s.get(Dispatch, dispatch_id)
        if d is None:
            raise PermanentError(f"no dispatch {dispatch_id}")
        if d.status not in ("uncertain", "failed") and not (choice == "cancel" and d.status in (
                "planned", "approved")):
            raise PermanentError(f"dispatch {dispatch_id} is {d.status}; only uncertain or failed "
                                 "dispatches can be resolved")
        extra = {"sent_at": utcnow()} if target == "sent" else {"not_before": None}
        outbox.transition(s, dispatch_id, d.status, target, **extra)
        record_event(s, "resolved", f"{d.status} → {target} by a person", dispatch_id=dispatch_id)
