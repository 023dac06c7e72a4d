"""Decisions a person takes on dispatches: approve planned ones, settle uncertain ones."""

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


def approve(ws: Workspace, ids: list[int] | None) -> int:
    with session(ws.engine, immediate=True) as s:
        q = select(Dispatch.id).where(Dispatch.status == S.PLANNED)
        if ids is not None:
            q = q.where(Dispatch.id.in_(ids))
        n = 0
        for did in s.execute(q).scalars().all():
            if outbox.transition(s, did, S.PLANNED, S.APPROVED):
                record_event(s, "approved", "approved by a person", dispatch_id=did)
                n += 1
    return n


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
