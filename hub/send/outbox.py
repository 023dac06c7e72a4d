"""The two writes on every send's path — the claim and the record of the send — as plain
SQL for a whole batch, one transaction each.

Built with SQLAlchemy's ORM, each cost a millisecond or more of statement building and
unit-of-work bookkeeping per dispatch: more than a fast SMTP relay takes to accept the
message. The statements are the same compare-and-set ones (`… WHERE status = ?`), so the
outbox guarantees hold unchanged: a row is sent by the worker whose claim moved it, and
recorded as sent only while it is still `sending`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from hub.store.bulk import Converters, sql
from hub.store.db import writing
from hub.store.events import log_event


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


def _marks(n: int) -> str:
    return ", ".join("?" * n)


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
