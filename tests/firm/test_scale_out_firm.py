"""A firm on Celery: 4 worker processes on real PostgreSQL and Redis send 10,000 dispatches
of 100 companies through a 20 ms channel; two workers are killed (SIGKILL, the whole
process group, as a host dies) mid-run and started again. Every dispatch ends sent once —
a killed task's batch comes back with the task, a send cut mid-flight is settled from
`uncertain` — none lost, none sent with another company's channel settings."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.plan.planner import plan
from hub.send.dispatcher import Dispatcher
from hub.serve.executor import CeleryExecutor
from hub.store.db import session
from hub.store.models import Dispatch
from hub.sync.engine import sync_all
from hub.workspace import Workspace
from hub.workspace.firm import Firm
from tests.serve.test_scale_out import redis_url

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]
COMPANIES, PER_COMPANY = 100, 100

COMPANY = """
company: {{name: "Company {i}", country: FR, timezone: Europe/Paris, language: en,
          workdays: [0, 1, 2, 3, 4, 5, 6]}}
connections: {{books: {{plugin: csv, settings: {{path: invoices.csv, complete_export: true}}}}}}
channels:
  out: {{plugin: fake_outbox, concurrency: 4,
        settings: {{path: "{sent}/{slug}.jsonl", sender: "{slug}", latency: 0.02}}}}
scenarios: {{standard: {{steps: [{{at: due+3d, channel: out, template: first_reminder}}]}}}}
assign: [{{scenario: standard}}]
dispatch: {{sending_lease: 10s}}
"""
HEADER = "invoice_id;invoice_number;customer_id;customer_name;email;currency;amount_due;due_date;status\n"


def make_firm(root: Path, pg_url: str, broker: str, queue: str) -> Path:
    sent = root / "sent"
    sent.mkdir(parents=True)
    (root / "relance.yaml").write_text(
        f'firm: {{name: Scale}}\ndatabase: {{url: "{pg_url}"}}\n'
        f'scale: {{executor: celery, broker: "{broker}", queue: {queue}, send_batch: 40, '
        'visibility_timeout: 15s}\n')
    due = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    for i in range(COMPANIES):
        slug = f"co{i:03d}"
        folder = root / "companies" / slug
        folder.mkdir(parents=True)
        (folder / "relance.yaml").write_text(COMPANY.format(i=i, slug=slug, sent=sent))
        (folder / "invoices.csv").write_text(HEADER + "".join(
            f"{n};{slug}-{n};C{n};Customer {n};c{n}@example.com;EUR;100.00;{due};open\n"
            for n in range(PER_COMPANY)))
    return root


def start_worker(root: Path, n: int, env: dict) -> subprocess.Popen:
    log = (root / f"worker{n}.log").open("a")
    return subprocess.Popen(
        [sys.executable, "-m", "hub", "worker", "-w", str(root), "--concurrency", "1",
         "--name", f"w{n}-{uuid.uuid4().hex[:4]}@%h", "--loglevel", "warning"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


async def resolve(ws) -> None:
    """What the clock's `resolve` job does (hub.serve.scheduler.job_resolve)."""
    d = Dispatcher(ws)
    d.recover()
    await d.resolve_uncertain()
    await ws.aclose()


def lines(root: Path) -> list[dict]:
    return [json.loads(x) for f in sorted((root / "sent").glob("*.jsonl"))
            for x in f.read_text().splitlines() if x.strip()]


def test_killed_workers_lose_nothing_and_send_nothing_twice(tmp_path, pg_url):
    broker = redis_url()
    queue = f"relance-test-{uuid.uuid4().hex[:6]}"
    root = make_firm(tmp_path / "firm", pg_url, broker, queue)
    firm = Firm.at(root)
    from tests.firm import fake_outbox

    spaces = {slug: Workspace.open(firm.company(slug), plugins=(fake_outbox,)) for slug in firm.slugs()}
    started = time.monotonic()
    for ws in spaces.values():
        asyncio.run(sync_all(ws))
        assert plan(ws).created == PER_COMPANY
    print(f"planned in {time.monotonic() - started:.1f} s")
    clocks = [CeleryExecutor(ws, slug) for slug, ws in spaces.items()]
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "RELANCE_PLUGINS": "tests.firm.fake_outbox"}
    workers = [start_worker(root, n, env) for n in range(4)]
    try:
        for clock in clocks:  # the clock's first pass: every batch enqueued
            asyncio.run(clock.send())
        deadline = time.monotonic() + 120
        while len(lines(root)) < 2500 and time.monotonic() < deadline:
            time.sleep(0.2)
        for w in workers[:2]:  # two hosts die mid-run
            os.killpg(w.pid, signal.SIGKILL)
            w.wait()
        killed_at = len(lines(root))
        print(f"killed at {killed_at} sent, {time.monotonic() - started:.1f} s")
        assert killed_at < COMPANIES * PER_COMPANY, "the run ended before the kill"
        workers[:2] = [start_worker(root, n, env) for n in range(2)]
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            left = 0
            for ws in spaces.values():
                with session(ws.engine) as s:
                    left += s.execute(select(func.count()).select_from(Dispatch).where(
                        Dispatch.status != "sent")).scalar_one()
            print(f"{left} left at {time.monotonic() - started:.1f} s, {len(lines(root))} sent")
            if not left:
                break
            for ws, clock in zip(spaces.values(), clocks, strict=True):
                asyncio.run(resolve(ws))  # the clock's resolve job: settle the dead sends
                asyncio.run(clock.send())  # and its send job: enqueue the rest
            time.sleep(2)
    finally:
        for w in workers:
            with __import__("contextlib").suppress(ProcessLookupError):
                os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            w.wait(timeout=60)
    logs = "\n".join(p.read_text()[-3000:] for p in sorted(root.glob("worker*.log")))
    assert left == 0, logs
    sent = lines(root)
    keys = [x["key"] for x in sent]
    assert len(keys) == len(set(keys)) == COMPANIES * PER_COMPANY  # each once, none lost
    for x in sent:  # each through its own company's channel settings
        assert x["sender"] == f"co{int(x['company'].split()[-1]):03d}"
    pids = {x["pid"] for x in sent}
    assert len(pids) >= 4, "the sends were not spread over the workers"
