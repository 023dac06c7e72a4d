"""`relance simulate` over 90 days of 100,000 open invoices and 10,000 customers (10 % with
a credit note, 5 % with a case state), against one daily plan of the same data.

Figures: `simulate_90d_100k_seconds` (≤ 15), `simulate_90d_100k_peak_rss_mb` (≤ 500) and
`simulate_90d_over_plan_1d` (≤ 5): ninety simulated days over the time of one daily plan.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from tests.bench._common import emit, peak_rss_mb
from tests.bench.bench_plan import CONFIG, TODAY, populate


def run() -> dict[str, float]:
    from hub.plan.planner import plan
    from hub.reports.simulate import simulate
    from hub.workspace import Workspace
    from tests import memory_plugins

    root = Path(tempfile.mkdtemp(prefix="relance-bench-simulate-"))
    (root / "relance.yaml").write_text(CONFIG)
    ws = Workspace.open(root, plugins=(memory_plugins.Plugin(),), entry_points=False)
    populate(ws, 100_000, 10_000)
    plan(ws, today=TODAY)  # the backlog, once: the daily state the simulation starts from
    t0 = time.perf_counter()
    plan(ws, today=TODAY + dt.timedelta(days=1), dry_run=True)
    daily = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = simulate(ws, TODAY + dt.timedelta(days=1), TODAY + dt.timedelta(days=90))
    seconds = time.perf_counter() - t0
    print(f"  daily plan {daily:.2f}s; simulate 90 days: {len(rows):,} rows in {seconds:.1f}s",
          flush=True)
    return {"simulate_90d_100k_seconds": round(seconds, 2),
            "simulate_90d_100k_peak_rss_mb": peak_rss_mb(),
            "simulate_90d_over_plan_1d": round(seconds / daily, 1)}


if __name__ == "__main__":
    emit(run())
