"""One clock: a lease row in the database elects the process that runs the scheduler.

Portable (SQLite and PostgreSQL alike): the leader renews `lease.expires_at` every
`ttl / 3` seconds by compare-and-set; a standby takes over once the lease has expired,
so a second `relance serve` is a hot standby, never a second clock.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.clock import utcnow
from hub.store.db import session
from hub.store.models import Lease

SCHEDULER = "scheduler"


class LeaseHolder:
    def __init__(self, engine, name: str = SCHEDULER, ttl: float = 15.0,
                 owner: str | None = None):
        self.engine, self.name, self.ttl = engine, name, ttl
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def try_acquire(self) -> bool:
        """Take or renew the lease; True when this process holds it now."""
        now = utcnow()
        until = now + dt.timedelta(seconds=self.ttl)
        with session(self.engine, immediate=True) as s:
            res = s.execute(update(Lease).where(
                Lease.name == self.name,
                (Lease.owner == self.owner) | (Lease.expires_at < now),
            ).values(owner=self.owner, expires_at=until))
            if res.rowcount == 1:
                return True
            if s.execute(select(Lease.name).where(Lease.name == self.name)).first():
                return False
        try:
            with session(self.engine, immediate=True) as s:
                s.execute(insert(Lease).values(name=self.name, owner=self.owner, expires_at=until))
            return True
        except IntegrityError:
            return False

    def holder(self) -> tuple[str, dt.datetime] | None:
        with session(self.engine) as s:
            row = s.execute(select(Lease.owner, Lease.expires_at).where(
                Lease.name == self.name)).first()
        return (row[0], row[1]) if row else None

    def release(self) -> None:
        with session(self.engine, immediate=True) as s:
            s.execute(update(Lease).where(Lease.name == self.name, Lease.owner == self.owner)
                      .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
