"""The outbox: the one writer of a dispatch's status.

    planned ──approve──▶ approved ──claim──▶ sending ──▶ sent
       │                  │  ▲                 │  ├──▶ failed      (permanent error)
       └──▶ cancelled ◀───┘  └──retry later────┘  └──▶ uncertain   (timeout mid-send, crash)

Every move is a compare-and-set (`UPDATE … WHERE id = ? AND status = ?`): the caller that
changes the row owns the transition, so two workers, a webhook and a person can never
all win. `TRANSITIONS` lists the moves; anything else is a bug and raises.

The two writes on every send's path — the claim and the record of the send — are plain
SQL for a whole batch, one transaction each (built with the ORM, each cost more than a
fast SMTP relay takes to accept a message): a row is sent by the worker whose claim
moved it, and recorded as sent only while it is still `sending`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from hub.clock import utcnow
from hub.plan.agenda import look_at
from hub.store.bulk import Converters, sql
from hub.store.db import writing
from hub.store.events import log_event
from hub.store.models import Dispatch


class Status(StrEnum):
    """A dispatch's place in the outbox (stored as its value)."""

    PLANNED = "planned"
    APPROVED = "approved"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNCERTAIN = "uncertain"


S = Status
#: every move the outbox makes; `transition` refuses any other
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.PLANNED: frozenset({S.APPROVED, S.CANCELLED}),
    S.APPROVED: frozenset({S.SENDING, S.CANCELLED, S.FAILED}),
    S.SENDING: frozenset({S.SENT, S.APPROVED, S.UNCERTAIN, S.FAILED}),
    S.UNCERTAIN: frozenset({S.SENT, S.APPROVED, S.FAILED, S.CANCELLED}),
    S.FAILED: frozenset({S.APPROVED, S.SENT, S.CANCELLED}),
    S.SENT: frozenset(),
    S.CANCELLED: frozenset(),
}
#: states in which a dispatch may still go out
PENDING = (S.PLANNED, S.APPROVED)


def transition(s: Session, dispatch_id: int, frm: Status | Iterable[Status], to: Status,
               **values: Any) -> bool:
    """Compare-and-set: move the row from one of `frm` to `to` (with `values`). True when
    this caller moved it; False when it was in another state (someone else won)."""
    states = [Status(frm)] if isinstance(frm, str) else [Status(f) for f in frm]
    wrong = [f for f in states if Status(to) not in TRANSITIONS[f]]
    if wrong:
        raise ValueError(f"the outbox never moves a dispatch from {wrong[0]} to {to}")
    res = s.connection().execute(
        update(Dispatch).where(Dispatch.id == dispatch_id, Dispatch.status.in_(states))
        .values(status=Status(to).value, updated_at=utcnow(), **values))
    return res.rowcount == 1


def hold(s: Session, dispatch_id: int, until: dt.datetime, reason: str) -> bool:
    """An approved dispatch waits until `until` (quiet hours, stale data): still approved."""
    res = s.connection().execute(
        update(Dispatch).where(Dispatch.id == dispatch_id, Dispatch.status == S.APPROVED.value)
        .values(not_before=until, hold_reason=reason, updated_at=utcnow()))
    return res.rowcount == 1


def settle_simulated(s: Session, first: int, sent_at: dt.datetime) -> None:
    """The simulator's copy only: the day's planned dispatches (every id from `first` on)
    count as sent that day (one UPDATE, no provider, no claim — never on a real store)."""
    s.execute(update(Dispatch).where(Dispatch.id >= first, Dispatch.status.in_(
        (Status.PLANNED.value, Status.APPROVED.value))).values(
        status=Status.SENT.value, sent_at=sent_at, updated_at=sent_at))


def release(s: Session, dispatch_id: int, invoice_ids: Sequence[int]) -> None:
    """These invoices leave the dispatch before it is sent: their (invoice, scenario, step)
    links go, so the step is still to do if they are owed again (where an invoice stands
    is read from its links: `hub.plan.standing`)."""
    if not invoice_ids:
        return
    marks = _marks(len(invoice_ids))
    sql(s.connection(), f"DELETE FROM dispatch_invoice WHERE dispatch_id = ? AND invoice_id IN "
                        f"({marks})", (dispatch_id, *invoice_ids))
    look_at(s, invoice_ids)  # the next plan reads them: the step may be due again


def abandon(engine: Engine, worker: str) -> int:
    """A stopping process's claims that never completed: `sending` → `uncertain` (the send
    may have reached the provider), with the audit event. Returns how many."""
    with writing(engine) as c:
        to = Converters(c)
        ids = [i for (i,) in sql(c, "SELECT id FROM dispatch WHERE status = 'sending' AND worker = ?",
                                 (worker,))]
        for i in ids:
            sql(c, "UPDATE dispatch SET status = 'uncertain', updated_at = ? "
                   "WHERE id = ? AND status = 'sending'", (to.instant(utcnow()), i))
        if ids:
            sql(c, "INSERT INTO event (at, kind, level, dispatch_id, message, data) "
                   "VALUES (?, 'uncertain', 'warning', ?, ?, ?)",
                [(to.instant(utcnow()), i, "the service stopped while sending; not re-sent "
                  "blindly: `relance resolve`", "{}") for i in ids])
    return len(ids)


def record_delivery(s: Session, dispatch_id: int, delivery_status: str,
                    at: dt.datetime | None) -> bool:
    """A provider reports on a message: its delivery status is kept, and a dispatch left
    `uncertain` becomes `sent` (the provider has it). True when this call settled it."""
    s.connection().execute(update(Dispatch).where(Dispatch.id == dispatch_id).values(
        delivery_status=delivery_status, updated_at=utcnow()))
    return transition(s, dispatch_id, S.UNCERTAIN, S.SENT, sent_at=at or utcnow())


@dataclass
class SentRow:
    """What one successful send writes."""

    dispatch_id: int
    customer_id: int
    provider_ref: str | None
    delivery_status: str
    event_message: str
    event_data: dict
    tasks: list[tuple[str, str]] = field(default_factory=list)  # (title, script)
    flags: list[tuple[int, str]] = field(default_factory=list)  # (invoice id, column)
    writebacks: list[int] = field(default_factory=list)  # invoice ids


# the only invoice flags a channel's result may set (KeyError on anything else)
_FLAG_UPDATES = {flag: f"UPDATE invoice SET {flag} = TRUE WHERE id = ?"
                 for flag in ("in_collection", "on_payment_plan")}


def due_now(now: dt.datetime, holder: str | None = None):
    """Approved dispatches whose time has come that no other send task holds (`holder`'s
    own reservations count as free): what a pass sends, and what the clock enqueues."""
    free = Dispatch.reserved_until.is_(None) | (Dispatch.reserved_until < now)
    if holder is not None:
        free = free | (Dispatch.reserved_by == holder)
    return (Dispatch.status == S.APPROVED) & (
        Dispatch.not_before.is_(None) | (Dispatch.not_before <= now)) & free


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def reserve(engine: Engine, limit: int, worker: str, now: dt.datetime, lease: dt.timedelta,
            channels: Sequence[str] | None = None) -> list[int]:
    """Up to `limit` due dispatches no other task holds, held by `worker` until now + lease
    (their status is untouched: a task that dies leaves them to the next once the lease
    ends). PostgreSQL skips the rows another task is taking at the same moment (FOR UPDATE
    SKIP LOCKED); SQLite's write lock already serialises the takers."""
    with writing(engine) as c:
        to = Converters(c)
        at = to.instant(now)
        only = f" AND channel IN ({_marks(len(channels))})" if channels else ""
        skip = " FOR UPDATE SKIP LOCKED" if c.dialect.name == "postgresql" else ""
        rows = sql(c, "UPDATE dispatch SET reserved_by = ?, reserved_until = ? WHERE id IN ("
                      "SELECT id FROM dispatch WHERE status = 'approved' AND (not_before IS NULL "
                      "OR not_before <= ?) AND (reserved_until IS NULL OR reserved_until < ? "
                      f"OR reserved_by = ?){only} ORDER BY id LIMIT ?{skip}) RETURNING id",
                   (worker, to.instant(now + lease), at, at, worker, *(channels or ()), limit)
                   ).fetchall()
    return sorted(r[0] for r in rows)


def claim(engine: Engine, ids: Sequence[int], worker: str, now: dt.datetime) -> set[int]:
    """approved → sending; the ids this worker now holds."""
    with writing(engine) as c:
        to = Converters(c)
        rows = sql(c, "UPDATE dispatch SET status = 'sending', worker = ?, attempts = attempts + 1, "
                      f"updated_at = ? WHERE status = 'approved' AND id IN ({_marks(len(ids))}) "
                      "RETURNING id", (worker, to.instant(now), *ids)).fetchall()
    return {r[0] for r in rows}


def record_sent(engine: Engine, rows: Iterable[SentRow], now: dt.datetime) -> set[int]:
    """sending → sent with the audit event (and the send's tasks, flags and writebacks);
    the dispatch ids recorded (one that left `sending` meanwhile is not)."""
    rows = list(rows)
    with writing(engine) as c:
        to = Converters(c)
        at = to.instant(now)
        ids = [r.dispatch_id for r in rows]
        # SQLite: the write lock is held; PostgreSQL: the rows are locked. Either way no
        # other worker (a lease recovery) can move them until this commits.
        lock = " FOR UPDATE" if c.dialect.name == "postgresql" else ""
        ours = {i for (i,) in sql(c, f"SELECT id FROM dispatch WHERE status = 'sending' AND id IN "
                                     f"({_marks(len(ids))}){lock}", tuple(ids))}
        rows = [r for r in rows if r.dispatch_id in ours]
        if not rows:
            return set()
        sql(c, "UPDATE dispatch SET status = 'sent', provider_ref = ?, delivery_status = ?, "
               "sent_at = ?, updated_at = ?, last_error = NULL, hold_reason = NULL "
               "WHERE id = ? AND status = 'sending'",
            [(r.provider_ref, r.delivery_status, at, at, r.dispatch_id) for r in rows])
        sql(c, "INSERT INTO event (at, kind, level, customer_id, dispatch_id, message, data) "
               "VALUES (?, 'sent', 'info', ?, ?, ?, ?)",
            [(at, r.customer_id, r.dispatch_id, r.event_message, json.dumps(r.event_data))
             for r in rows])
        tasks = [(r.dispatch_id, r.customer_id, title, script, at)
                 for r in rows for title, script in r.tasks]
        if tasks:
            sql(c, "INSERT INTO task (dispatch_id, customer_id, title, script, status, created_at) "
                   "VALUES (?, ?, ?, ?, 'open', ?)", tasks)
        for r in rows:
            for invoice_id, column in r.flags:
                sql(c, _FLAG_UPDATES[column], (invoice_id,))
        writebacks = [(r.dispatch_id, i, at) for r in rows for i in r.writebacks]
        if writebacks:
            sql(c, "INSERT INTO writeback (dispatch_id, invoice_id, status, attempts, "
                   "next_attempt_at) VALUES (?, ?, 'pending', 0, ?)", writebacks)
    for r in rows:  # the same log line `record_event` writes, once committed
        log_event("sent", r.event_message, dispatch_id=r.dispatch_id)
    return {r.dispatch_id for r in rows}
