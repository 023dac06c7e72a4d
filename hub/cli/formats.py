"""Report rows out: a Rich table, JSON, CSV or an Excel workbook (`--format`).

Cells a spreadsheet would read as a formula (a customer named "=HYPERLINK(…)") are written
as text: CSV through defusedcsv, xlsx by typing every text cell as a string."""

from __future__ import annotations

import io
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from hub.cli.common import console, fail, print_json, to_jsonable

FORMATS = ("table", "json", "csv", "xlsx")
FormatOpt = typer.Option("table", "--format", help="table | json | csv | xlsx")
OutputOpt = typer.Option(None, "--output", "-o", help="write to this file (xlsx needs one)")


def check_format(fmt: str, output: Path | None) -> None:
    if fmt not in FORMATS:
        raise fail(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "xlsx" and output is None:
        raise fail("--format xlsx writes a workbook: give it a file with --output report.xlsx")


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, Decimal | int | float | bool):
        return v
    return str(to_jsonable(v))


def emit(rows: list[dict[str, Any]], fmt: str, output: Path | None, title: str) -> None:
    columns = list(rows[0]) if rows else []
    if fmt == "json":
        if output:
            import json

            output.write_text(json.dumps(to_jsonable(rows), indent=2, ensure_ascii=False))
            return None
        return print_json(rows)
    if fmt == "csv":
        import defusedcsv.csv as csv

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(columns)
        for r in rows:
            w.writerow([_cell(r[c]) for c in columns])
        if output:
            output.write_text(buf.getvalue(), encoding="utf-8")
        else:
            sys.stdout.write(buf.getvalue())
        return None
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = title[:31] or "report"
        ws.append(columns)
        for r in rows:
            ws.append([_cell(r[c]) if not isinstance(r[c], Decimal) else float(r[c])
                       for c in columns])
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text, never a formula
        wb.save(output)
        console.print(f"{len(rows)} row(s) written to {output}", highlight=False)
        return None
    t = Table(title=title)
    for c in columns:
        t.add_column(c.replace("_", " "), justify="right" if rows and isinstance(
            rows[0][c], Decimal | int | float) else "left")
    for r in rows:
        t.add_row(*[str(_cell(r[c])) for c in columns])
    console.print(t)
    return None
