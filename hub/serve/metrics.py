"""`/metrics` in Prometheus format, read from the store at scrape time (no drift)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from sqlalchemy import func, select

from hub.clock import utcnow
from hub.store.db import session
from hub.store.models import Connection, Dispatch, Event
from hub.workspace import http

STATES = ("planned", "approved", "sending", "sent", "failed", "cancelled", "uncertain")


class StoreCollector:
    def __init__(self, runtime):
        self.rt = runtime

    def collect(self):
        ws, now = self.rt.ws, utcnow()
        with session(ws.engine) as s:
            conns = s.execute(select(Connection)).scalars().all()
            states = dict(s.execute(select(Dispatch.status, func.count()).group_by(Dispatch.status)).all())
            sent = s.execute(select(Dispatch.channel, func.count()).where(
                Dispatch.status == "sent").group_by(Dispatch.channel)).all()
            held = s.execute(select(Dispatch.hold_reason, func.count()).where(
                Dispatch.status == "approved", Dispatch.hold_reason.is_not(None))
                .group_by(Dispatch.hold_reason)).all()
            reason = Event.data["reason"].as_string()  # json_extract / ->>, per dialect
            suppressed = s.execute(select(reason, func.count()).where(
                Event.kind == "suppressed").group_by(reason)).all()
        last = GaugeMetricFamily("relance_last_successful_sync_timestamp_seconds",
                                 "Unix time of the last successful sync", labels=["connection"])
        lag = GaugeMetricFamily("relance_sync_lag_seconds", "Seconds since the last successful sync",
                                labels=["connection"])
        reauth = GaugeMetricFamily("relance_connection_needs_reauth",
                                   "1 when the connection must be re-connected", labels=["connection"])
        for c in conns:
            if c.last_sync_ok_at:
                last.add_metric([c.name], c.last_sync_ok_at.timestamp())
                lag.add_metric([c.name], (now - c.last_sync_ok_at).total_seconds())
            reauth.add_metric([c.name], 1.0 if c.state == "needs_reauth" else 0.0)
        yield from (last, lag, reauth)
        by_state = GaugeMetricFamily("relance_dispatches", "Dispatches by state", labels=["state"])
        for st in STATES:
            by_state.add_metric([st], states.get(st, 0))
        yield by_state
        sends = CounterMetricFamily("relance_sent", "Dispatches sent, by channel", labels=["channel"])
        for channel, n in sent:
            sends.add_metric([channel], n)
        yield sends
        holds = GaugeMetricFamily("relance_held_dispatches", "Dispatches held, by reason",
                                  labels=["reason"])
        for reason, n in held:
            holds.add_metric([reason.split(":")[0]], n)
        yield holds
        sup = CounterMetricFamily("relance_suppressed", "Invoices not reminded at send time, by reason",
                                  labels=["reason"])
        for why, n in suppressed:
            sup.add_metric([why or "unknown"], n)
        yield sup
        calls = CounterMetricFamily("relance_api_calls", "HTTP calls made by plugins", labels=["client"])
        throttled = CounterMetricFamily("relance_api_throttled", "HTTP 429 answers received",
                                        labels=["client"])
        for name, n in http.CALLS.items():
            calls.add_metric([name], n)
        for name, n in http.THROTTLED.items():
            throttled.add_metric([name], n)
        yield from (calls, throttled)
        jobs = SummaryMetricFamily("relance_job_duration_seconds", "Scheduler job run time",
                                   labels=["job"])
        for job, values in self.rt.job_seconds.items():
            jobs.add_metric([job], len(values), sum(values))
        yield jobs
        alert = GaugeMetricFamily("relance_watchdog_alert", "1 when a cycle sent nothing it should have")
        alert.add_metric([], 1.0 if self.rt.alert else 0.0)
        yield alert
        leader = GaugeMetricFamily("relance_scheduler_leader", "1 when this process runs the clock")
        leader.add_metric([], 1.0 if self.rt.is_leader else 0.0)
        yield leader


def render(runtime) -> bytes:
    registry = CollectorRegistry()
    registry.register(StoreCollector(runtime))
    return generate_latest(registry)
