"""The demo: a workspace with sample data, a real local SMTP server, one full cycle.

Everything runs on loopback; nothing leaves the machine. A second run finds every due
reminder already sent and says so — the at-most-once invariant, visible.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from hub.demo.sample import write_sample

STARTER = Path(__file__).parent / "demo.yaml"
# Left in the workspace: the channels whose servers the demo itself runs, and only while
# it runs (its SMTP server). `relance doctor` expects them to be unreachable in between.
MARKER = ".relance-demo"
DEMO_SERVED = ("email", "sms", "stripe")  # SMTP, fake Twilio, fake Stripe: up only in a demo


def demo_served_channels(root: Path) -> set[str]:
    """The channels of `root` served by `relance demo` itself (none outside a demo)."""
    marker = root / MARKER
    if not marker.exists():
        return set()
    return {line.strip() for line in marker.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")}


DEMO_PLAN_ROWS = 12
# The demo's letters claim late-payment fees today; the shipped timeline stops at the last
# published rate it was checked against, so the demo states the one it assumes.
DEMO_RATES = """# DEMO ONLY: the ECB main refinancing rate is assumed unchanged at 2.15 % through
# 2026 so the demo's letters can claim fees today. A real workspace adds the published
# rate (https://www.ecb.europa.eu) here; Relance refuses to claim on a rate it lacks.
ecb_mro:
  rates:
    - {from: 2026-07-01, rate: "2.15"}
  known_until: 2026-12-31
"""


def sample_rows(rows: list, limit: int) -> list:
    """A short preview that still shows every (step, channel) once, in the plan's order."""
    firsts = {}
    for i, r in enumerate(rows):
        firsts.setdefault((r.step, r.channel), i)
    keep = set(sorted(firsts.values())[:limit])
    rest = [i for i in range(len(rows)) if i not in keep]
    keep.update(rest[:max(0, limit - len(keep))])
    return [r for i, r in enumerate(rows) if i in keep]


def pay_one(export: Path, preview: list) -> tuple[str, str] | None:
    """Mark one invoice of today's plan paid in the export, as a customer paying between
    the plan and the send would: the demo then shows the fresh-check dropping it."""

    from hub.demo.scenes import mark_paid

    row = next((r for r in preview if r.channel == "email" and len(r.invoices) == 1), None)
    if row is None:
        return None
    mark_paid(export, {row.invoices[0]})
    return row.customer, row.invoices[0]


def prepare(root: Path, today: dt.date, *, reset: bool = False) -> bool:
    """Create the workspace files; True when they were new."""
    if reset and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    fresh = not (root / "relance.yaml").exists()
    if fresh:
        (root / "relance.yaml").write_text(STARTER.read_text(encoding="utf-8"), encoding="utf-8")
        (root / MARKER).write_text(
            "# made by `relance demo`: these channels' servers run only during the demo\n"
            + "".join(f"{name}\n" for name in DEMO_SERVED), encoding="utf-8")
    rates = root / "law" / "rates.yaml"
    if not rates.exists():  # the shipped timeline stops at the last rate checked
        rates.parent.mkdir(parents=True, exist_ok=True)
        rates.write_text(DEMO_RATES, encoding="utf-8")
    if not (root / "invoices.csv").exists():
        write_sample(root / "invoices.csv", today)
    return fresh
