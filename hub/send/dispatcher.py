"""The dispatcher: claims approved dispatches, fresh-checks them, composes and sends each
through its channel, and reports every outcome to the outbox (`hub.send.outbox`, the one
writer of a dispatch's status, by compare-and-set), so two workers — threads, processes or
Celery hosts — can never both send one dispatch. A crash while `sending` leaves the row
`sending`; once its lease expires it becomes `uncertain` and is resolved through the
channel's status API, re-sent only on channels whose provider honours the idempotency
key, or held for a person (`relance resolve`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from hub.clock import day_in, today_in, utcnow
from hub.contracts import SendResult
from hub.contracts.budget import per_second
from hub.errors import (
    AuthError,
    DeliveryUncertainError,
    PermanentError,
    RelanceError,
    RetriableError,
)
from hub.plan.scenarios import debtor_calendar
from hub.send import outbox
from hub.send.coalesce import Coalescer
from hub.send.compose import Work, compose, preload
from hub.send.freshness import FreshCheck
from hub.send.outbox import Status as S
from hub.send.quiet_hours import HOLIDAYS_ONLY, debtor_zone, next_allowed
from hub.store.db import session
from hub.store.events import record_event
from hub.store.models import Customer, Dispatch, DispatchInvoice, Invoice
from hub.workspace import Workspace

log = logging.getLogger("relance.dispatch")


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    held: int = 0
    cancelled: int = 0
    uncertain: int = 0
    skipped_busy: int = 0
    by_step: Counter = field(default_factory=Counter)
    amounts: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    hold_reasons: Counter = field(default_factory=Counter)


def worker_name() -> str:
    """This process, as the outbox records who claimed a dispatch."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Dispatcher:
    def __init__(self, ws: Workspace, *, worker: str | None = None,
                 reservation: str | None = None,
                 now: Callable[[], dt.datetime] = utcnow,
                 on_progress: Callable[[SendReport], None] | None = None,
                 stop: asyncio.Event | None = None):
        self.ws, self.now, self.on_progress = ws, now, on_progress
        self.stop = stop  # set on SIGTERM: finish what is in flight, claim nothing new
        self.worker = worker or worker_name()
        # who a batch is reserved for: a Celery task's id, so a redelivered task gets it back
        self.reservation = reservation or self.worker
        self.report = SendReport()
        self.cfg = ws.config.dispatch
        self._rates: dict[str, str | None] = {}
        self._sems: dict[str, asyncio.Semaphore] = {}
        self.fresh = FreshCheck(ws)
        # claims and completions of the sends in flight share transactions; a completion
        # is not awaited (the slot is free for the next send), it is written within 50 ms
        self._claims: Coalescer[int, bool] = Coalescer(self._claim, delay=0.01, max_batch=16)
        self._completions: Coalescer[tuple, None] = Coalescer(self._sent, delay=0.05)

    # ------------------------------------------------------------------ recovery
    def recover(self) -> int:
        """`sending` rows whose lease expired become `uncertain` (a worker died mid-send)."""
        cutoff = self.now() - dt.timedelta(seconds=self.cfg.sending_lease)
        with session(self.ws.engine, immediate=True) as s:
            stale = s.execute(select(Dispatch.id).where(
                Dispatch.status == S.SENDING, Dispatch.updated_at < cutoff)).scalars().all()
            for did in stale:
                if outbox.transition(s, did, S.SENDING, S.UNCERTAIN):
                    record_event(s, "uncertain", "worker died while sending; not re-sent blindly",
                                 level="warning", dispatch_id=did)
        return len(stale)

    async def resolve_uncertain(self) -> int:
        """Ask the channel, or re-send where the provider deduplicates; else leave for a person."""
        resolved = 0
        with session(self.ws.engine) as s:
            rows = s.execute(select(Dispatch).where(Dispatch.status == S.UNCERTAIN)).scalars().all()
        for d in rows:
            cls = self.ws.plugin_class("channel", d.channel)
            with session(self.ws.engine, immediate=True) as s:
                if cls.supports_status and d.provider_ref:
                    try:
                        st = await self.ws.channel(d.channel).status(d.provider_ref)
                    except RelanceError as exc:
                        log.warning("dispatch %s: status check failed: %s", d.id, exc)
                        continue
                    if st.status in ("queued", "sent", "delivered"):
                        resolved += outbox.transition(s, d.id, S.UNCERTAIN, S.SENT,
                                               delivery_status=st.status, sent_at=self.now())
                    elif st.status in ("failed", "undelivered"):
                        resolved += outbox.transition(s, d.id, S.UNCERTAIN, S.FAILED,
                                               last_error=st.detail or st.status)
                elif cls.idempotent:
                    if outbox.transition(s, d.id, S.UNCERTAIN, S.APPROVED, not_before=None):
                        resolved += 1
                        record_event(s, "resend", "re-sending: the provider deduplicates by "
                                     "idempotency key", dispatch_id=d.id)
        return resolved

    # ------------------------------------------------------------------ main loop
    def due_ids(self, limit: int | None, channels: list[str] | None) -> list[int]:
        """What this pass sends. With a `limit` (a send task's batch), the dispatches are
        reserved for this worker, so tasks running side by side each take a different
        batch; without one, every due dispatch not in another task's batch."""
        now = self.now()
        if limit:
            lease = dt.timedelta(seconds=self.ws.config.dispatch.sending_lease)
            return outbox.reserve(self.ws.engine, limit, self.reservation, now, lease, channels)
        with session(self.ws.engine) as s:
            q = select(Dispatch.id).where(outbox.due_now(now, self.reservation)).order_by(
                Dispatch.id)
            if channels:
                q = q.where(Dispatch.channel.in_(channels))
            return list(s.execute(q).scalars())

    async def run(self, *, limit: int | None = None, channels: list[str] | None = None,
                  chunk: int = 200) -> SendReport:
        self.recover()
        await self.resolve_uncertain()
        from hub.send.approvals import withdraw_settled

        withdraw_settled(self.ws)
        ids = self.due_ids(limit, channels)
        chunks = [ids[i:i + chunk] for i in range(0, len(ids), chunk)]
        works = await self.load(chunks[0]) if chunks else []
        try:
            for n in range(len(chunks)):
                if self.stop is not None and self.stop.is_set():
                    break
                # the next chunk is loaded (and fresh-checked) while this one sends
                sending = asyncio.gather(*(self._guarded(w) for w in works))
                following = self.load(chunks[n + 1]) if n + 1 < len(chunks) else None
                works = await following if following is not None else []
                await sending
        finally:
            self._completions.flush()
        from hub.send.payment_writeback import process_payment_writebacks
        from hub.send.writeback import process_writebacks

        await process_writebacks(self.ws, now=self.now)
        await process_payment_writebacks(self.ws, now=self.now)
        return self.report

    async def load(self, ids: list[int]) -> list[Work]:
        """Dispatches with their customer and invoices, after a batched fresh-check."""
        works = await asyncio.to_thread(self._read, ids)  # off the loop: sends keep flowing
        await self.fresh.refresh(works)
        await asyncio.to_thread(preload, self.ws, works)  # after the refresh: amounts as now
        return works

    def _read(self, ids: list[int]) -> list[Work]:
        with session(self.ws.engine) as s:
            # only what is still ours to take: another worker may have claimed some meanwhile
            ds = {d.id: d for d in s.execute(select(Dispatch).where(
                Dispatch.id.in_(ids), Dispatch.status == S.APPROVED)).scalars()}
            ids = list(ds)
            links = s.execute(select(DispatchInvoice.dispatch_id, Invoice).join(
                Invoice, Invoice.id == DispatchInvoice.invoice_id).where(
                DispatchInvoice.dispatch_id.in_(ids))).all()
            custs = {c.id: c for c in s.execute(select(Customer).where(
                Customer.id.in_({d.customer_id for d in ds.values()}))).scalars()}
        by_dispatch: dict[int, list[Invoice]] = defaultdict(list)
        for did, inv in links:
            by_dispatch[did].append(inv)
        return [Work(d, custs[d.customer_id], by_dispatch[d.id],
                     self.fresh.connection_name(custs[d.customer_id].connection_id))
                for d in ds.values()]

    async def _guarded(self, w: Work) -> None:
        channel = w.dispatch.channel
        if channel not in self._sems:
            conf = self.ws.config.channels[channel]
            self._sems[channel] = asyncio.Semaphore(max(1, conf.concurrency))
            self._rates[channel] = (per_second(conf.rate_limit) if conf.rate_limit
                                    else self.ws.plugin_class("channel", channel).rate)
        async with self._sems[channel]:
            try:
                await self.process(w)
            except Exception as exc:  # never let one dispatch stop the batch
                log.exception("dispatch %s crashed", w.dispatch.id)
                self.report.errors.append(f"dispatch {w.dispatch.id}: {exc}")
        if self.on_progress:
            self.on_progress(self.report)

    # ------------------------------------------------------------------ one dispatch
    async def process(self, w: Work) -> None:
        d, ws = w.dispatch, self.ws
        today = today_in(ws.config.company.timezone)
        reason = self.fresh.hold_reason(w)
        if reason:
            return self._hold(d.id, reason, self.now() + dt.timedelta(minutes=15))
        if not w.invoices:
            return self._cancel(w, "every invoice was paid, voided, disputed or put on hold")
        conf = ws.config.channels[d.channel]
        cls = ws.plugin_class("channel", d.channel)
        if cls.quiet_hours_relevant:  # quiet hours and public holidays, the debtor's
            c = w.customer
            tz = debtor_zone(c.timezone, c.country, ws.config.company.timezone)
            off = debtor_calendar(ws.config.company, None, c.country, c.region).holidays
            now = self.now()
            until = next_allowed(now, conf.quiet_hours or HOLIDAYS_ONLY, tz,
                                 closed=off.__contains__)
            if until:
                holiday = day_in(now, tz) in off
                return self._hold(d.id, "public_holiday" if holiday else "quiet_hours", until)
        if self.stop is not None and self.stop.is_set():
            return
        if not await self._claims.submit(d.id):
            self.report.skipped_busy += 1
            return
        d.attempts += 1
        channel = ws.channel(d.channel)
        try:
            message = await compose(ws, w, today)  # no transaction is held across awaits
            if d.payment_link_id:
                with session(ws.engine, immediate=True) as s:
                    s.execute(update(Dispatch).where(Dispatch.id == d.id)
                              .values(payment_link_id=d.payment_link_id))
            problems = self._requirements(cls, message) + list(channel.problems(message))
            if problems:
                raise PermanentError("; ".join(problems))
        except RetriableError as exc:  # e.g. the payment provider was busy: nothing sent
            return self._retry(w, exc, cls)
        except Exception as exc:  # nothing was sent: a template or data problem
            return self._fail(w, exc)
        rate = self._rates.get(d.channel)
        try:
            if rate:  # counted for every worker sending through this account
                await ws.budgets.take(channel.budget_key(), rate)
            result = await channel.send(message)
        except RetriableError as exc:
            return self._retry(w, exc, cls)
        except AuthError as exc:
            return self._hold_sending(d.id, f"channel_auth: {exc}", dt.timedelta(hours=1))
        except DeliveryUncertainError as exc:
            return self._uncertain(w, exc, cls)
        except (PermanentError, RelanceError) as exc:
            return self._fail(w, exc)
        except Exception as exc:  # a plugin bug: we do not know whether it sent
            log.exception("dispatch %s: channel %s raised", d.id, d.channel)
            return self._uncertain(w, exc, cls)
        self._completions.submit((w, result, message.subject))

    @staticmethod
    def _requirements(cls: type, message) -> list[str]:
        r, out = message.recipient, []
        if "email" in cls.requires and not r.email:
            out.append(f"customer {r.name!r} has no e-mail address")
        if "phone" in cls.requires and not (r.mobile or r.phone):
            out.append(f"customer {r.name!r} has no phone number")
        if "address" in cls.requires and r.address.missing_for_post():
            out.append(f"customer {r.name!r} address lacks "
                       f"{', '.join(r.address.missing_for_post())}")
        return out

    # ------------------------------------------------------------------ outcomes
    def _claim(self, ids: list[int]) -> list[bool]:
        got = outbox.claim(self.ws.engine, ids, self.worker, utcnow())
        return [i in got for i in ids]

    def _sent(self, batch: list[tuple[Work, SendResult, str]]) -> list[None]:
        """Never raises (nobody awaits it): a failure leaves the rows `sending`, to be
        settled as `uncertain` after the lease, and is reported."""
        try:
            rows = [self._sent_row(w, result, subject) for w, result, subject in batch]
            done = outbox.record_sent(self.ws.engine, rows, self.now())
        except Exception as exc:
            log.exception("recording %d sent dispatches failed", len(batch))
            ids = ", ".join(str(w.dispatch.id) for w, _, _ in batch)
            self.report.errors.append(f"dispatches {ids} were sent but could not be recorded "
                                      f"(they will show as uncertain): {exc}")
            return [None] * len(batch)
        for w, _, _ in batch:
            d = w.dispatch
            if d.id not in done:
                continue
            self.report.sent += 1
            self.report.by_step[(d.scenario, d.step, d.channel)] += 1
            for inv in w.invoices:
                self.report.amounts[inv.currency] = (self.report.amounts.get(inv.currency, 0)
                                                     + inv.amount_due)
        if self.on_progress:
            self.on_progress(self.report)
        return [None] * len(batch)

    def _sent_row(self, w: Work, result: SendResult, subject: str) -> outbox.SentRow:
        d = w.dispatch
        flags = {ext: flag for ext, flag in result.invoice_updates.items()
                 if flag in ("in_collection", "on_payment_plan")}
        conn_cfg = self.ws.config.connections.get(w.connection)
        writeback = bool(conn_cfg and conn_cfg.writeback and self.ws.plugin_class(
            "connector", w.connection).supports_writeback)
        follow = result.follow_up
        return outbox.SentRow(
            dispatch_id=d.id, customer_id=d.customer_id, provider_ref=result.provider_ref,
            delivery_status=result.status,
            event_message=f"{d.scenario}/{d.step} via {d.channel}: {subject}"[:300],
            event_data={"invoices": [i.id for i in w.invoices], "provider_ref": result.provider_ref,
                        "artifacts": list(result.artifacts)},
            tasks=[(follow.title, follow.script)] if follow else [],
            flags=[(i.id, flags[i.external_id]) for i in w.invoices if i.external_id in flags],
            writebacks=[i.id for i in w.invoices] if writeback else [])

    def _retry(self, w: Work, exc: RetriableError, cls: type) -> None:
        d = w.dispatch
        max_attempts = self.ws.config.channels[d.channel].max_attempts
        if d.attempts >= max_attempts:
            return self._fail(w, PermanentError(f"gave up after {d.attempts} attempts: {exc}"))
        # the provider's Retry-After when it gives one (it knows when it will take the
        # message again), else our exponential backoff
        delay = exc.retry_after if exc.retry_after and exc.retry_after > 0 else \
            self.cfg.retry_backoff * 2 ** (d.attempts - 1)
        with session(self.ws.engine, immediate=True) as s:
            outbox.transition(s, d.id, S.SENDING, S.APPROVED, last_error=str(exc)[:1000],
                       not_before=self.now() + dt.timedelta(seconds=delay))
            record_event(s, "retry", f"transient failure, retry in {delay:.0f}s: {exc}",
                         level="warning", dispatch_id=d.id)
        self.report.retried += 1

    def _uncertain(self, w: Work, exc: Exception, cls: type) -> None:
        if cls.idempotent:
            return self._retry(w, RetriableError(str(exc)), cls)
        with session(self.ws.engine, immediate=True) as s:
            outbox.transition(s, w.dispatch.id, S.SENDING, S.UNCERTAIN, last_error=str(exc)[:1000],
                              provider_ref=getattr(exc, "provider_ref", None))
            record_event(s, "uncertain", f"may or may not have been sent ({exc}); held for "
                         f"`relance resolve {w.dispatch.id}`", level="warning",
                         dispatch_id=w.dispatch.id)
        self.report.uncertain += 1

    def _fail(self, w: Work, exc: Exception) -> None:
        with session(self.ws.engine, immediate=True) as s:
            outbox.transition(s, w.dispatch.id, [S.SENDING, S.APPROVED], S.FAILED,
                       last_error=str(exc)[:1000])
            record_event(s, "failed", str(exc)[:1000], level="error",
                         customer_id=w.dispatch.customer_id, dispatch_id=w.dispatch.id)
        self.report.failed += 1
        self.report.errors.append(f"dispatch {w.dispatch.id} ({w.customer.name}): {exc}")

    def _cancel(self, w: Work, why: str) -> None:
        with session(self.ws.engine, immediate=True) as s:
            if outbox.transition(s, w.dispatch.id, S.APPROVED, S.CANCELLED, last_error=why):
                record_event(s, "cancelled", why, dispatch_id=w.dispatch.id,
                             customer_id=w.dispatch.customer_id, data={"dropped": w.dropped})
        self.report.cancelled += 1

    def _hold(self, dispatch_id: int, reason: str, until: dt.datetime) -> None:
        with session(self.ws.engine, immediate=True) as s:
            outbox.hold(s, dispatch_id, until, reason)
            record_event(s, "held", f"held until {until:%Y-%m-%d %H:%M} UTC: {reason}",
                         dispatch_id=dispatch_id)
        self.report.held += 1
        self.report.hold_reasons[reason.split(":")[0]] += 1

    def _hold_sending(self, dispatch_id: int, reason: str, delay: dt.timedelta) -> None:
        with session(self.ws.engine, immediate=True) as s:
            outbox.transition(s, dispatch_id, S.SENDING, S.APPROVED, hold_reason=reason,
                       not_before=self.now() + delay)
            record_event(s, "held", reason, level="error", dispatch_id=dispatch_id)
        self.report.held += 1
        self.report.hold_reasons[reason.split(":")[0]] += 1


async def send_due(ws: Workspace, **kw: Any) -> SendReport:
    return await Dispatcher(ws, **{k: v for k, v in kw.items()
                                   if k in ("worker", "now", "on_progress")}).run(
        **{k: v for k, v in kw.items() if k in ("limit", "channels", "chunk")})
