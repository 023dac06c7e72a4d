"""`make bench`: run every tests/bench/bench_*.py in its own process, print and merge figures.

`python -m tests.bench xero csv` runs only the modules whose name contains those words.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.bench._common import MARK, RESULTS, merge


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    modules = sorted(p.stem for p in here.glob("bench_*.py"))
    if argv:
        modules = [m for m in modules if any(a in m for a in argv)]
    failed = []
    for mod in modules:
        print(f"== {mod}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", f"tests.bench.{mod}"],
                              stdout=subprocess.PIPE, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
        if proc.returncode != 0 or not lines:
            failed.append(mod)
            print(f"   {mod} FAILED (exit {proc.returncode})", flush=True)
            continue
        merge(json.loads(lines[-1][len(MARK):]))
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    print(f"\nresults merged into {RESULTS}:")
    print(RESULTS.read_text() if RESULTS.exists() else "{}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
