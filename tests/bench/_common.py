"""Shared helpers for benchmarks: each bench module runs in its own process.

A bench module defines ``run() -> dict[str, float]`` and ends with
``if __name__ == "__main__": emit(run())``; the harness (`python -m tests.bench`)
merges every module's figures into `.bench/results.json`.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / ".bench" / "results.json"
MARK = "BENCH-RESULTS "


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MB.

    Linux's `VmHWM` first: `ru_maxrss` survives `exec`, so a bench started by a larger
    process would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def emit(results: dict[str, float]) -> None:
    for name, value in results.items():
        print(f"  {name:40s} {value}", file=sys.stderr)
    print(MARK + json.dumps(results), flush=True)


def merge(results: dict[str, float]) -> dict[str, float]:
    """Merge into .bench/results.json (later issues add their figures; nothing is dropped)."""
    RESULTS.parent.mkdir(exist_ok=True)
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current.update(results)
    RESULTS.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    return current
