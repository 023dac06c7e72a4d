"""`make bench-scale`: sends per second with 1, 2 and 4 Celery workers on the PostgreSQL and
Redis of this machine, through a 50 ms fake channel, for a firm of 20 companies.

Figures: scale_sends_per_s_1w / _2w / _4w (each worker one task at a time, two sends in
flight; 400 dispatches per worker; taken between the first and the last arrival at the
provider, so worker start-up is left out), scale_4w_over_1w (target ≥ 3), and
scale_tenant_limit_violations: a fifth run where the 20 companies' channels share one
provider account allowed 40 sends a second, below what 4 workers would send — how many
sends the provider saw with 40 others in the second before them (its 429s; target 0).
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text, update

from tests.bench._common import RESULTS, emit, merge

ROOT = Path(__file__).resolve().parents[2]
COMPANIES, PER_WORKER, RATE = 20, 400, 40
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BROKER = "redis://127.0.0.1:6379/8"
COMPANY = """
company: {{name: "Company {i}", country: FR, timezone: Europe/Paris, language: en,
          workdays: [0, 1, 2, 3, 4, 5, 6]}}
connections: {{books: {{plugin: csv, settings: {{path: invoices.csv, complete_export: true}}}}}}
channels:
  out: {{plugin: fake_outbox, concurrency: 2, {rate}
        settings: {{path: "{sent}/{slug}.jsonl", sender: "{slug}", latency: 0.05,
                   account: shared}}}}
scenarios: {{standard: {{steps: [{{at: due+3d, channel: out, template: first_reminder}}]}}}}
assign: [{{scenario: standard}}]
"""
HEADER = "invoice_id;invoice_number;customer_id;customer_name;email;currency;amount_due;due_date;status\n"


def firm(root: Path, db_url: str, queue: str, per_company: int, limited: bool) -> None:
    (root / "sent").mkdir(parents=True)
    (root / "relance.yaml").write_text(
        f'firm: {{name: Bench}}\ndatabase: {{url: "{db_url}"}}\n'
        f'scale: {{executor: celery, broker: "{BROKER}", queue: {queue}, send_batch: 25}}\n')
    due = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    for i in range(COMPANIES):
        slug = f"co{i:02d}"
        folder = root / "companies" / slug
        folder.mkdir(parents=True)
        (folder / "relance.yaml").write_text(COMPANY.format(i=i, slug=slug, sent=root / "sent",
                                                            rate=f"rate_limit: {RATE}/s," if limited else ""))
        (folder / "invoices.csv").write_text(HEADER + "".join(
            f"{n};{slug}-{n};C{n};Customer {n};c{n}@example.com;EUR;100.00;{due};open\n"
            for n in range(per_company)))


def arrivals(root: Path) -> list[float]:
    return sorted(json.loads(x)["at"] for f in (root / "sent").glob("*.jsonl")
                  for x in f.read_text().splitlines() if x.strip())


def over_limit(times: list[float]) -> int:
    """Arrivals that found RATE others in the second before them (the provider's 429s)."""
    return sum(1 for i, t in enumerate(times) if i - bisect.bisect_left(times, t - 1.0) >= RATE)


def one_run(workers: int, limited: bool = False) -> tuple[float, int]:
    from hub.plan.planner import plan
    from hub.serve.executor import CeleryExecutor
    from hub.store.models import Dispatch
    from hub.sync.engine import sync_all
    from hub.workspace import Workspace
    from hub.workspace.firm import Firm
    from tests.firm import fake_outbox

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"relance_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    root = Path(tempfile.mkdtemp(prefix="relance-bench-scale-")) / "firm"
    queue = f"relance-bench-{uuid.uuid4().hex[:6]}"
    total = PER_WORKER * workers
    firm(root, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", queue, total // COMPANIES,
         limited)
    f = Firm.at(root)
    spaces = {slug: Workspace.open(f.company(slug), plugins=(fake_outbox,)) for slug in f.slugs()}
    for ws in spaces.values():
        asyncio.run(sync_all(ws))
        plan(ws)
        with ws.engine.begin() as c:  # held until the workers are up
            c.execute(update(Dispatch).values(not_before=dt.datetime(2999, 1, 1, tzinfo=dt.UTC)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RELANCE_PLUGINS": "tests.firm.fake_outbox"}
    procs = [subprocess.Popen(
        [sys.executable, "-m", "hub", "worker", "-w", str(root), "--concurrency", "1",
         "--name", f"b{n}-{uuid.uuid4().hex[:4]}@%h", "--loglevel", "error"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True) for n in range(workers)]
    try:
        time.sleep(8)  # the workers open the firm's companies
        for ws in spaces.values():
            with ws.engine.begin() as c:
                c.execute(update(Dispatch).values(not_before=None))
        for slug, ws in spaces.items():
            asyncio.run(CeleryExecutor(ws, slug).send())
        deadline = time.monotonic() + 300
        while len(arrivals(root)) < total and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        for ws in spaces.values():
            ws.engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    times = arrivals(root)
    assert len(times) == total, f"{len(times)} of {total} sent"
    return round((len(times) - 1) / (times[-1] - times[0]), 1), over_limit(times)


def run() -> dict[str, float]:
    out = {}
    for n in (1, 2, 4):
        out[f"scale_sends_per_s_{n}w"] = one_run(n)[0]
        print(f"  {n} worker(s): {out[f'scale_sends_per_s_{n}w']}/s", file=sys.stderr)
    out["scale_4w_over_1w"] = round(out["scale_sends_per_s_4w"] / out["scale_sends_per_s_1w"], 2)
    rate, over = one_run(4, limited=True)
    print(f"  4 workers on one account allowed {RATE}/s: {rate}/s, {over} over", file=sys.stderr)
    out["scale_tenant_limit_violations"] = over
    return out


if __name__ == "__main__":
    results = run()
    emit(results)
    merge(results)
    print(f"merged into {RESULTS}", file=sys.stderr)
