"""Import 100,000 CSV rows (20,000 customers) through the hub: parse + upsert into SQLite.

Target ≥ 50,000 rows/s. Reports the whole sync (`csv_import_rows_per_s`) and the
connector's parsing alone (`csv_parse_rows_per_s`).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from tests.bench._common import emit, peak_rss_mb

ROWS, CUSTOMERS = 100_000, 20_000
CONFIG = """
company: {name: Bench, country: FR, timezone: Europe/Paris}
connections: {books: {plugin: csv, settings: {path: invoices.csv}}}
"""


def generate_csv(path: Path, rows: int = ROWS, customers: int = CUSTOMERS) -> Path:
    rng = random.Random(1)
    today = dt.date(2026, 11, 24)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["invoice_number", "customer_id", "customer_name", "email", "currency",
                    "total", "amount_due", "issue_date", "due_date", "status"])
        for i in range(rows):
            c = rng.randrange(customers)
            amount = f"{rng.randint(100, 9_999_999) / 100:.2f}".replace(".", ",")
            due = today + dt.timedelta(days=rng.randint(-90, 30))
            w.writerow([f"F{i:07d}", f"C{c:05d}", f"Client {c}", f"c{c}@example.com",
                        rng.choice(("EUR", "EUR", "EUR", "GBP", "USD")), amount, amount,
                        (due - dt.timedelta(days=30)).strftime("%d/%m/%Y"),
                        due.strftime("%d/%m/%Y"), ""])
    return path


def run() -> dict[str, float]:
    from hub.sync.engine import sync_connection
    from hub.testing import make_context
    from hub.workspace import Workspace
    from plugins.csv import CsvConnector, CsvSettings

    root = Path(tempfile.mkdtemp(prefix="relance-bench-csv-"))
    (root / "relance.yaml").write_text(CONFIG)
    generate_csv(root / "invoices.csv")

    conn = CsvConnector(CsvSettings(path="invoices.csv"), make_context("books", root))

    async def parse_only():
        return sum([len(p.records) async for p in conn.sync({})])

    t0 = time.perf_counter()
    asyncio.run(parse_only())
    parse = time.perf_counter() - t0

    ws = Workspace.open(root)
    t0 = time.perf_counter()
    report = asyncio.run(sync_connection(ws, "books"))
    seconds = time.perf_counter() - t0
    assert report.ok and report.invoices == ROWS, report
    print(f"  parsed in {parse:.2f}s; imported {report.invoices:,} invoices and "
          f"{report.customers:,} customer rows in {seconds:.2f}s", flush=True)
    return {"csv_import_rows_per_s": round(ROWS / seconds),
            "csv_parse_rows_per_s": round(ROWS / parse),
            "csv_import_peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    emit(run())
