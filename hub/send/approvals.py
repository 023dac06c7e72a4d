"""Decisions a person takes on dispatches: approve planned ones, retry failed ones once the
cause is fixed, settle uncertain ones (one by one or many at once)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import or_, select

from hub.clock import utcnow
from hub.errors import PermanentError
from hub.send import outbox
from hub.send.outbox import Status as S
from hub.store.db import session
from hub.store.events import record_event
from hub.store.models import Dispatch
from hub.workspace import Workspace


@dataclass
class QueueFilter:
    """Which waiting dispatches a person means: ids, or a scenario, step, customer, or
    amount range (all that are given must hold)."""

    ids: list[int] | None = None
    scenario: str | None = None
    step: str | None = None
    customer: str | None = None
    above: Decimal | None = None
    below: Decimal | None = None

    def where(self, q):
        from hub.store.models import Customer, customer_named

        if self.ids is not None:
            q = q.where(Dispatch.id.in_(self.ids))
        if self.scenario:
            q = q.where(Dispatch.scenario == self.scenario)
        if self.step:
            q = q.where(or_(Dispatch.step == self.step, Dispatch.template == self.step))
        if self.customer:
            q = q.where(Dispatch.customer_id.in_(select(Customer.id).where(
                customer_named(self.customer))))
        if self.above is not None:
            q = q.where(Dispatch.amount > self.above)
        if self.below is not None:
            q = q.where(Dispatch.amount < self.below)
        return q

    @property
    def empty(self) -> bool:
        return not any((self.ids, self.scenario, self.step, self.customer,
                        self.above is not None, self.below is not None))


def _move(ws: Workspace, which: QueueFilter | list[int] | None, frm: S, to: S, why: str,
          kind: str, **values) -> int:
    """Every dispatch in `frm` (or those `which` names) to `to`, each by compare-and-set,
    each with its audit event."""
    if not isinstance(which, QueueFilter):
        which = QueueFilter(ids=which)
    with session(ws.engine, immediate=True) as s:
        q = which.where(select(Dispatch.id).where(Dispatch.status == frm))
        n = 0
        for did in s.execute(q).scalars().all():
            if outbox.transition(s, did, frm, to, **values):
                record_event(s, kind, why, dispatch_id=did)
                n += 1
    return n


def withdraw_settled(ws: Workspace) -> int:
    """Waiting dispatches whose every invoice was paid (or closed) since they were planned
    leave the queue: cancelled, with the reason, so no one approves a reminder to a payer."""
    from sqlalchemy import exists

    from hub.store.models import DispatchInvoice, Invoice

    di, inv = DispatchInvoice.__table__.c, Invoice.__table__.c
    owed = exists(select(di.invoice_id).join(Invoice.__table__, inv.id == di.invoice_id).where(
        di.dispatch_id == Dispatch.id, inv.status == "open", inv.hub_paid_at.is_(None)))
    with session(ws.engine, immediate=True) as s:
        ids = s.execute(select(Dispatch.id).where(Dispatch.status == S.PLANNED, ~owed)).scalars().all()
        n = 0
        for did in ids:
            if outbox.transition(s, did, S.PLANNED, S.CANCELLED,
                                 last_error="every invoice was paid or closed since it was planned"):
                record_event(s, "cancelled", "left the approval queue: every invoice was paid "
                             "or closed since it was planned", dispatch_id=did)
                n += 1
    return n


def waiting(ws: Workspace, which: QueueFilter | None = None, *, render: bool = True,
            limit: int = 200) -> list[dict]:
    """The approval queue: each waiting dispatch with who, what, how much, why it waits and
    (with `render`) the message it would send."""
    from hub.send.preview import rendered_message
    from hub.store.models import Customer

    which = which or QueueFilter()
    out = []
    with session(ws.engine) as s:
        q = which.where(select(Dispatch, Customer).join(
            Customer, Customer.id == Dispatch.customer_id).where(
            Dispatch.status == S.PLANNED).order_by(Dispatch.id)).limit(limit)
        for d, c in s.execute(q).all():
            row = {"id": d.id, "customer": c.name, "scenario": d.scenario, "step": d.step,
                   "channel": d.channel, "template": d.template, "planned_on": d.planned_on,
                   "currency": d.currency, "amount": d.amount, "invoices": d.invoice_count,
                   "why": d.approval_reason or "approval required"}
            if render:
                try:
                    msg = rendered_message(s, ws, d)[1]
                    row["subject"], row["text"] = msg.subject, msg.text
                except Exception as exc:  # the queue still lists it, with the problem
                    row["subject"], row["text"] = "", f"(cannot render: {exc})"
            out.append(row)
    return out


def approve(ws: Workspace, which: QueueFilter | list[int] | None, by: str | None = None) -> int:
    """planned → approved (`which=None`: every planned dispatch)."""
    from hub.plan.cases import actor

    return _move(ws, which, S.PLANNED, S.APPROVED, f"approved by {actor(by)}", "approved")


def reject(ws: Workspace, which: QueueFilter | list[int] | None, reason: str,
           by: str | None = None) -> int:
    """planned → cancelled, with the reason and who: the step is not sent (the case moves
    on to its next step when that one is due)."""
    from hub.plan.cases import actor

    if not reason or not reason.strip():
        raise PermanentError("say why: --reason \"…\" (it is kept in the customer's history)")
    who = actor(by)
    return _move(ws, which, S.PLANNED, S.CANCELLED, f"rejected by {who}: {reason}", "rejected",
                 last_error=f"rejected by {who}: {reason}")


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
