"""`/metrics` in Prometheus format, read from the store at scrape time (no drift). A firm's
service labels each series with its `company`."""

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
    def __init__(self, runtimes: dict):
        self.runtimes = runtimes
        self.firm = None not in runtimes

    def _family(self, cls, name: str, doc: str, labels: list[str]):
        return cls(name, doc, labels=[*labels, "company"] if self.firm else labels)

    def collect(self):
        f = {
            "last": self._family(GaugeMetricFamily, "relance_last_successful_sync_timestamp_seconds",
                                 "Unix time of the last successful sync", ["connection"]),
            "lag": self._family(GaugeMetricFamily, "relance_sync_lag_seconds",
                                "Seconds since the last successful sync", ["connection"]),
            "reauth": self._family(GaugeMetricFamily, "relance_connection_needs_reauth",
                                   "1 when the connection must be re-connected", ["connection"]),
            "state": self._family(GaugeMetricFamily, "relance_dispatches", "Dispatches by state",
                                  ["state"]),
            "sent": self._family(CounterMetricFamily, "relance_sent", "Dispatches sent, by channel",
                                 ["channel"]),
            "held": self._family(GaugeMetricFamily, "relance_held_dispatches",
                                 "Dispatches held, by reason", ["reason"]),
            "sup": self._family(CounterMetricFamily, "relance_suppressed",
                                "Invoices not reminded at send time, by reason", ["reason"]),
            "jobs": self._family(SummaryMetricFamily, "relance_job_duration_seconds",
                                 "Scheduler job run time", ["job"]),
            "alert": self._family(GaugeMetricFamily, "relance_watchdog_alert",
                                  "1 when a cycle sent nothing it should have", []),
            "leader": self._family(GaugeMetricFamily, "relance_scheduler_leader",
                                   "1 when this process runs the clock", []),
        }
        for company, rt in self.runtimes.items():
            self._company(f, rt, [company] if self.firm else [])
        yield from f.values()
        calls = CounterMetricFamily("relance_api_calls", "HTTP calls made by plugins", labels=["client"])
        throttled = CounterMetricFamily("relance_api_throttled", "HTTP 429 answers received",
                                        labels=["client"])
        for name, n in http.CALLS.items():
            calls.add_metric([name], n)
        for name, n in http.THROTTLED.items():
            throttled.add_metric([name], n)
        yield from (calls, throttled)

    @staticmethod
    def _company(f: dict, rt, co: list[str]) -> None:
        ws, now = rt.ws, utcnow()
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
        for c in conns:
            if c.last_sync_ok_at:
                f["last"].add_metric([c.name, *co], c.last_sync_ok_at.timestamp())
                f["lag"].add_metric([c.name, *co], (now - c.last_sync_ok_at).total_seconds())
            f["reauth"].add_metric([c.name, *co], 1.0 if c.state == "needs_reauth" else 0.0)
        for st in STATES:
            f["state"].add_metric([st, *co], states.get(st, 0))
        for channel, n in sent:
            f["sent"].add_metric([channel, *co], n)
        for why, n in held:
            f["held"].add_metric([why.split(":")[0], *co], n)
        for why, n in suppressed:
            f["sup"].add_metric([why or "unknown", *co], n)
        for job, values in rt.job_seconds.items():
            f["jobs"].add_metric([job, *co], len(values), sum(values))
        f["alert"].add_metric(co, 1.0 if rt.alert else 0.0)
        f["leader"].add_metric(co, 1.0 if rt.is_leader else 0.0)


def render(runtimes) -> bytes:
    """`runtimes`: one Runtime, or a firm's {company: Runtime}."""
    registry = CollectorRegistry()
    registry.register(StoreCollector(runtimes if isinstance(runtimes, dict) else {None: runtimes}))
    return generate_latest(registry)
