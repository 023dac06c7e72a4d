"""Four Celery workers syncing four companies that share one Xero organisation never go
over its 60 calls in any 60 seconds: the budget is counted once, in Redis, for all of them
(a fake Xero counts each call it receives for the tenant and answers 429 past the limit)."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest

from hub.serve.executor import CeleryExecutor
from hub.workspace import Workspace
from hub.workspace.auth import DbTokenStore
from hub.workspace.firm import Firm
from tests.fakes.xero_server import FakeXero
from tests.firm.test_scale_out_firm import start_worker
from tests.serve.test_scale_out import redis_url

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]

COMPANY = """
company: {{name: "Company {i}", country: GB, timezone: Europe/London, language: en}}
connections:
  books:
    plugin: xero
    settings: {{client_id: cid, client_secret: secret, tenant_id: "{tenant}",
               base_url: "http://127.0.0.1:{port}", identity_url: "http://127.0.0.1:{port}"}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CountingXero(FakeXero):
    """Each call's arrival time, for the tenant every company shares."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.arrivals: list[float] = []

    def handle(self, method, path, params, headers, body):
        self.arrivals.append(time.monotonic())
        return super().handle(method, path, params, headers, body)

    def most_in_a_minute(self) -> int:
        return max((sum(1 for t in self.arrivals if first <= t < first + 60)
                    for first in self.arrivals), default=0)


def test_four_workers_share_one_tenants_60_calls_a_minute(tmp_path, pg_url):
    broker = redis_url()
    port = free_port()
    xero = CountingXero(invoices=25_000, contacts=10, credit_notes=0, limits=True, latency=0.01)
    xero.tenant = str(uuid.uuid4())  # a budget of its own in Redis
    xero.serve(port)
    root = tmp_path / "firm"
    (root / "companies").mkdir(parents=True)
    queue = f"relance-test-{uuid.uuid4().hex[:6]}"
    (root / "relance.yaml").write_text(
        f'firm: {{name: Shared}}\ndatabase: {{url: "{pg_url}"}}\n'
        f'scale: {{executor: celery, broker: "{broker}", queue: {queue}}}\n')
    for i in range(4):
        (root / "companies" / f"co{i}").mkdir()
        (root / "companies" / f"co{i}" / "relance.yaml").write_text(
            COMPANY.format(i=i, tenant=xero.tenant, port=port))
    firm = Firm.at(root)
    clocks = []
    for slug in firm.slugs():
        ws = Workspace.open(firm.company(slug))
        DbTokenStore(ws.engine, "books", ws.box, plugin="xero").save(
            {"access_token": "at", "refresh_token": "rt", "token_type": "Bearer",
             "expires_at": time.time() + 3600})
        clocks.append(CeleryExecutor(ws, slug))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [start_worker(root, n, env) for n in range(4)]
    try:
        for clock in clocks:  # four syncs at once, each wanting ~30 calls
            clock._enqueue("relance.sync", "books")
        deadline = time.monotonic() + 90
        while len(xero.arrivals) < 57 and time.monotonic() < deadline:
            time.sleep(0.2)
        first = xero.arrivals[0] if xero.arrivals else time.monotonic()
        time.sleep(max(0.0, first + 20 - time.monotonic()))  # well inside the first minute
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGKILL)
            w.wait()
        xero.server.should_exit = True
    logs = "\n".join(p.read_text()[-2000:] for p in sorted(root.glob("worker*.log")))
    # the minute's budget less the 5 % kept spare for jitter, and not one call more
    assert len(xero.arrivals) == 57, logs
    assert xero.most_in_a_minute() == 57
    assert xero.throttled == 0  # paced below the limit, never bounced off it
