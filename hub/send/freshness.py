"""The last look before a send: is the data fresh, and is every invoice still owed?

Invoices are re-read from the source in one batched call per connection (when the
connector can) and upserted, then each dispatch keeps only the invoices that are still
open, owed, undisputed and not promised — so a customer who paid an hour ago is never
reminded, and an amount that changed is rendered as it is now. An invoice the source no
longer returns is gone, not open. A connection whose last sync failed, or whose data is
older than `max_staleness`, holds its sends: unknown is not open.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import select

from hub.clock import today_in, utcnow
from hub.errors import RelanceError
from hub.plan.cases import covering
from hub.plan.cases import stops as stops_on
from hub.send import outbox
from hub.store import records as store
from hub.store.db import session
from hub.store.events import record_event
from hub.store.models import Connection, Invoice

if TYPE_CHECKING:
    from hub.send.compose import Work
    from hub.workspace import Workspace

log = logging.getLogger("relance.freshness")
REFRESH_CHUNK = 100


def why_not_owed(inv: Invoice, today: dt.date, stops: list[str], customer_on_hold: bool) -> str | None:
    if inv.hub_paid_at is not None:  # we saw the payment; the ledger has not recorded it yet
        return "paid (pending the ledger)"
    if inv.status != "open":
        return inv.status
    if inv.amount_due <= 0:
        return "paid"
    if inv.disputed:
        return "disputed"
    if customer_on_hold:
        return "on_hold"
    if "in_collection" in stops and inv.in_collection:
        return "in_collection"
    if "promised" in stops and inv.promised_until and inv.promised_until >= today:
        return f"promised until {inv.promised_until.isoformat()}"
    if "on_payment_plan" in stops and inv.on_payment_plan:
        return "on_payment_plan"
    return None


class FreshCheck:
    def __init__(self, ws: Workspace):
        self.ws = ws
        self._names: dict[int, str] = {}
        self._failed: dict[str, str] = {}
        self._last_ok: dict[str, object] = {}

    def connection_name(self, connection_id: int) -> str:
        if connection_id not in self._names:
            with session(self.ws.engine) as s:
                for row in s.execute(select(Connection.id, Connection.name)):
                    self._names[row[0]] = row[1]
        return self._names[connection_id]

    def hold_reason(self, w: Work) -> str | None:
        if w.connection in self._failed:
            return f"fresh_check_failed: {self._failed[w.connection]}"
        conf = self.ws.config.connections.get(w.connection)
        if conf is None:
            return None
        if w.connection not in self._last_ok:  # once per run, not once per dispatch
            with session(self.ws.engine) as s:
                self._last_ok[w.connection] = s.execute(select(
                    Connection.last_sync_ok_at, Connection.state, Connection.last_error).where(
                    Connection.name == w.connection)).first()
        last, state, error = self._last_ok[w.connection] or (None, None, None)
        if state in ("error", "needs_reauth"):  # the last sync could not read the source
            return f"source_unavailable: {error or state}"
        if last is None or utcnow() - last > dt.timedelta(seconds=conf.max_staleness):
            return "stale_data"
        return None

    async def refresh(self, works: list[Work]) -> None:
        by_conn: dict[str, list[Work]] = defaultdict(list)
        for w in works:
            by_conn[w.connection].append(w)
        for name, group in by_conn.items():
            if name in self.ws.config.connections and self.ws.plugin_class(
                    "connector", name).supports_refresh:
                await self._reread(name, group)
            self._filter(group)

    async def _reread(self, name: str, group: list[Work]) -> None:
        ids = sorted({i.external_id for w in group for i in w.invoices})
        connector = self.ws.connector(name)
        try:
            records = []
            for i in range(0, len(ids), REFRESH_CHUNK):
                records += await connector.refresh(ids[i:i + REFRESH_CHUNK])
        except NotImplementedError:
            return
        except RelanceError as exc:
            self._failed[name] = str(exc)
            log.warning("connection %s: fresh-check failed: %s", name, exc)
            return
        conn_id = group[0].customer.connection_id
        with session(self.ws.engine, immediate=True) as s:
            gen = s.get(Connection, conn_id).sync_generation
            store.upsert_invoices(s, conn_id, records, gen)
            fresh = {inv.id: inv for inv in s.execute(select(Invoice).where(
                Invoice.id.in_([i.id for w in group for i in w.invoices]))).scalars()}
        returned = {r.external_id for r in records}
        lists_all = getattr(connector, "refresh_lists_all", True)
        for w in group:
            w.invoices = [fresh.get(i.id, i) for i in w.invoices]
            if lists_all:  # not returned by the source: deleted, or gone from the export
                w.gone = {i.id for i in w.invoices if i.external_id not in returned}

    def _filter(self, group: list[Work]) -> None:
        today = today_in(self.ws.config.company.timezone)
        with session(self.ws.engine) as s:  # the open case states of the whole group
            cased = covering(s, [i for w in group for i in w.invoices], today)
        for w in group:
            sc = self.ws.config.scenarios.get(w.dispatch.scenario)
            stops, rest = (sc.stop_when, sc.remind_undisputed) if sc else ([], False)
            keep = []
            for inv in w.invoices:
                states = [words for kind, words, partial in cased.get(inv.id, ())
                          if stops_on(kind, stops, partial, rest)]
                why = "gone" if inv.id in w.gone else \
                    why_not_owed(inv, today, stops, w.customer.on_hold) or \
                    (states[0] if states else None)
                if why:
                    w.dropped[inv.id] = why
                else:
                    keep.append(inv)
            if w.dropped:
                numbers = {inv.id: inv.number for inv in w.invoices}
                with session(self.ws.engine, immediate=True) as s:
                    # not reminded, so the step stays to do: an invoice that reopens later
                    # (an export fixed, a dispute cleared) is planned again
                    outbox.release(s, w.dispatch.id, list(w.dropped))
                    for inv_id, why in w.dropped.items():
                        # `reason` is the kind (a metric label); the message says until when
                        record_event(s, "suppressed",
                                     f"invoice {numbers.get(inv_id, inv_id)} not reminded: {why}",
                                     dispatch_id=w.dispatch.id, invoice_id=inv_id,
                                     customer_id=w.customer.id,
                                     data={"reason": why.split(" until ")[0], "detail": why})
            w.invoices = keep
