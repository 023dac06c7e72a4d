"""The sync engine: pages from a connector → upserts + cursor, one transaction per page.

A sync that dies half way resumes from the last committed page, because the cursor is
written in the same transaction as the records it covers. A failing connection never
stops the others: auth problems mark it `needs_reauth`, quota problems pause it until
the provider's reset, anything else is recorded and retried on the next run.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, text, update

from hub.clock import utcnow
from hub.contracts import (
    CustomerRecord,
    InvoiceRecord,
    PaymentRecord,
    RecordProblem,
    SyncPage,
    Tombstone,
)
from hub.errors import AuthError, PermanentError, RateLimitedError, RelanceError
from hub.store import records as store
from hub.store.db import session
from hub.store.events import record_event
from hub.store.models import Connection
from hub.sync.bulkmode import bulk_mode
from hub.workspace import Workspace

log = logging.getLogger("relance.sync")


@dataclass
class SyncReport:
    connection: str
    ok: bool = True
    pages: int = 0
    customers: int = 0
    invoices: int = 0
    payments: int = 0
    closed: int = 0
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None
    # customer external ids committed during this sync: their existence is not re-checked
    known_customers: set[str] = field(default_factory=set, repr=False)
    # a person confirmed that a complete export may close more than `max_shrink` of the
    # open invoices (`relance sync --accept-shrink`)
    accept_shrink: bool = field(default=False, repr=False)

    @property
    def records(self) -> int:
        return self.customers + self.invoices + self.payments


def connection_row(ws: Workspace, name: str) -> Connection:
    """The connection's row, created on first use."""
    with session(ws.engine) as s:
        row = s.execute(select(Connection).where(Connection.name == name)).scalar_one_or_none()
        if row is None:
            row = Connection(name=name, plugin=ws.plugin_name("connector", name))
            s.add(row)
            s.flush()
        return row


@dataclass
class PreparedPage:
    """A page whose records are already statements with their parameters."""

    page: SyncPage
    customers: store.Batch
    invoices: store.Batch
    payments: store.Batch
    tombstones: list[Tombstone]
    problems: list[RecordProblem]


def prepare_page(ws: Workspace, conn_id: int, generation: int, page: SyncPage,
                 report: SyncReport) -> PreparedPage:
    """The Python half of a commit (records → statement parameters), run in the thread
    that produces the pages, so the writer thread only runs SQL: SQLite runs it without
    the GIL, in parallel with the connector parsing the next page."""
    by_kind: dict[type, list] = {}
    for rec in page.records:
        by_kind.setdefault(type(rec), []).append(rec)
    dialect, known = ws.engine.dialect.name, report.known_customers
    return PreparedPage(
        page, store.prepare_customers(dialect, conn_id, by_kind.get(CustomerRecord, []), known),
        store.prepare_invoices(dialect, conn_id, by_kind.get(InvoiceRecord, []), generation, known),
        store.prepare_payments(dialect, conn_id, by_kind.get(PaymentRecord, [])),
        by_kind.get(Tombstone, []), by_kind.get(RecordProblem, []))


def commit_page(ws: Workspace, conn_id: int, generation: int, prepared: PreparedPage,
                report: SyncReport) -> None:
    """Records and cursor of one page, atomically."""
    page = prepared.page
    with session(ws.engine, immediate=True) as s:
        customers = store.write(s, prepared.customers)
        invoices = store.write(s, prepared.invoices)
        payments = store.write(s, prepared.payments)
        closed = store.apply_tombstones(s, conn_id, prepared.tombstones)
        problems = [f"{p.place}: {p.reason}" for p in prepared.problems] + [
            f"connection {report.connection}: {text}"
            for batch in (prepared.invoices, prepared.payments) for text in batch.problems]
        for text in problems:
            record_event(s, "record_problem", text, level="warning", connection_id=conn_id)
        if page.complete_snapshot:
            check_shrink(ws, s, conn_id, generation, page, report)
            closed += store.close_unseen(s, conn_id, generation)
        conn = s.get(Connection, conn_id)
        conn.cursor = {**(conn.cursor or {}), **page.cursor}
        s.add(conn)
    report.customers += customers
    report.invoices += invoices
    report.payments += payments
    report.closed += closed
    report.problems += problems
    report.pages += 1


class SnapshotRefused(RelanceError):
    """A complete export that would close too many open invoices: nothing is closed."""


def check_shrink(ws: Workspace, s, conn_id: int, generation: int, page: SyncPage,
                 report: SyncReport) -> None:
    """Refuse a complete snapshot that lists none, or far fewer, of the open invoices:
    a truncated or wrong export must not close the ledger (and stop every reminder)."""
    share = ws.config.connections[report.connection].max_shrink
    before, unseen = s.execute(text(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN seen_generation < :g THEN 1 ELSE 0 END), 0) "
        "FROM invoice WHERE connection_id = :c AND status = 'open'"),
        {"g": generation, "c": conn_id}).one()
    if not before or report.accept_shrink or (unseen < before and unseen / before <= share):
        return
    listed = before - unseen
    source = f" ({page.source})" if page.source else ""
    raise SnapshotRefused(
        f"connection {report.connection}{source}: the complete export lists {listed} of the "
        f"{before} open invoices; closing the other {unseen} ({unseen / before:.0%}, more than "
        f"max_shrink {share:.0%}) was refused and nothing was closed. If the export is right, "
        f"run `relance sync {report.connection} --accept-shrink`")


async def sync_connection(ws: Workspace, name: str, *, full: bool = False,
                          on_page: Callable[[SyncReport], None] | None = None,
                          accept_shrink: bool = False) -> SyncReport:
    report = SyncReport(name, accept_shrink=accept_shrink)
    entry = ws.config.connections[name]
    if not entry.enabled:
        report.skipped = "disabled in relance.yaml"
        return report
    conn = connection_row(ws, name)
    now = utcnow()
    # a connection that needs re-authorisation is still tried: fixed credentials (an API
    # key in relance.yaml, a token saved by `relance connect`) clear it on the first success
    if conn.paused_until and conn.paused_until > now:
        report.skipped = f"paused until {conn.paused_until:%Y-%m-%d %H:%M} UTC ({conn.state_detail})"
        return report
    with session(ws.engine) as s:
        s.execute(update(Connection).where(Connection.id == conn.id).values(
            sync_generation=Connection.sync_generation + 1, last_sync_started_at=now,
            cursor={} if full else Connection.cursor))
        generation = s.get(Connection, conn.id).sync_generation
        cursor = dict(s.get(Connection, conn.id).cursor or {})
    connector = ws.connector(name)
    try:
        await _pump(ws, connector, cursor, conn.id, generation, report, on_page)
        if len(report.problems) >= 2 and not report.records:
            raise PermanentError(
                f"every one of the {len(report.problems)} records read was refused; the "
                f"first: {report.problems[0]} — a mapping problem (in the export's columns or "
                f"the plugin), not data to trust: fix it, then `relance sync {name} --full`")
    except AuthError as exc:
        _fail(ws, conn.id, report, exc, state="needs_reauth",
              hint="" if "relance connect" in str(exc) else
              f" — fix the credentials, then `relance connect {name}` checks them")
    except RateLimitedError as exc:
        until = utcnow() + dt.timedelta(seconds=exc.retry_after or 60)
        _fail(ws, conn.id, report, exc, state="paused", paused_until=until)
    except RelanceError as exc:
        _fail(ws, conn.id, report, exc, state="error")
    except Exception as exc:  # a plugin bug must not stop the other connections
        log.exception("connection %s: sync crashed", name)
        _fail(ws, conn.id, report, exc, state="error")
    else:
        with session(ws.engine) as s:
            s.execute(update(Connection).where(Connection.id == conn.id).values(
                state="ok", state_detail=None, paused_until=None, last_error=None,
                last_sync_ok_at=utcnow()))
            store.settle_hub_payments(s, conn.id)
            record_event(s, "sync", f"connection {name}: {report.records} records in "
                         f"{report.pages} pages, {len(report.problems)} problems",
                         connection_id=conn.id, data={"invoices": report.invoices,
                                                      "customers": report.customers,
                                                      "problems": len(report.problems)})
    return report


async def _pump(ws: Workspace, connector, cursor: dict, conn_id: int, generation: int,
                report: SyncReport, on_page) -> None:
    """Page N is committed in a worker thread while the connector produces page N+1;
    commits stay in order (each waits for the previous), so cursors only move forward."""
    pending: asyncio.Future | None = None
    loop = asyncio.get_running_loop()
    try:
        with bulk_mode():
            async for page in connector.sync(cursor):
                # prepared while the previous page is still being written
                prepared = prepare_page(ws, conn_id, generation, page, report)
                if pending is not None:
                    await pending
                    bulk_mode.page_done()
                    if on_page:
                        on_page(report)
                # submitted to the worker now (not at the loop's next turn): a connector
                # that parses without yielding would otherwise delay the commit
                pending = loop.run_in_executor(None, contextvars.copy_context().run,
                                               commit_page, ws, conn_id, generation, prepared,
                                               report)
            if pending is not None:
                await pending
                pending = None
                if on_page:
                    on_page(report)
    finally:
        if pending is not None:  # the connector failed: let the page in flight land first
            await asyncio.gather(pending, return_exceptions=True)


def _fail(ws: Workspace, conn_id: int, report: SyncReport, exc: Exception, *, state: str,
          paused_until: dt.datetime | None = None, hint: str = "") -> None:
    text = f"connection {report.connection}: {exc}{hint}"
    report.ok, report.error = False, text
    with session(ws.engine) as s:
        s.execute(update(Connection).where(Connection.id == conn_id).values(
            state=state, state_detail=str(exc)[:500], last_error=text[:1000],
            paused_until=paused_until))
        record_event(s, "sync_failed", text, level="error", connection_id=conn_id,
                     data={"state": state, "error": type(exc).__name__})
    log.error(text)


def mark_authorised(ws: Workspace, name: str) -> bool:
    """Credentials just worked (`relance connect`): a `needs_reauth` connection is ok
    again. Returns whether it was waiting for that."""
    conn = connection_row(ws, name)
    with session(ws.engine) as s:
        res = s.execute(update(Connection).where(
            Connection.id == conn.id, Connection.state == "needs_reauth").values(
            state="ok", state_detail=None, last_error=None))
        if res.rowcount:
            record_event(s, "connection", f"connection {name}: credentials accepted; "
                         "re-authorisation no longer needed", connection_id=conn.id)
    return bool(res.rowcount)


async def sync_all(ws: Workspace, names: list[str] | None = None, *, full: bool = False,
                   on_page: Callable[[SyncReport], None] | None = None) -> list[SyncReport]:
    reports = []
    for name in names or list(ws.config.connections):
        reports.append(await sync_connection(ws, name, full=full, on_page=on_page))
    return reports
