"""Spreadsheet files a plugin writes from ledger data (hand-off cases, lists of letters):
a cell that starts like a formula is written inert, so `=cmd|' /C calc'!A0` in a
customer's name stays text when an agency opens the file.

CSV escaping is defusedcsv's (`=`, `+`, `-`, `@`, `|`, `%` prefixed with `'`, numbers left
alone); a leading tab or carriage return, which some spreadsheets also read as the start
of a formula, is prefixed the same way. XLSX cells holding text are typed as text, so
openpyxl never stores them as formulas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from defusedcsv import csv as defused

_ALSO = ("\t", "\r")


def _lead(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(_ALSO) else value


class _Writer:
    def __init__(self, inner):
        self.inner = inner

    def writerow(self, row: Iterable[Any]) -> Any:
        return self.inner.writerow([_lead(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(file, **fmtparams: Any) -> _Writer:
    """`csv.writer(file)` whose cells cannot become formulas."""
    return _Writer(defused.writer(file, **fmtparams))


def append_inert(worksheet, row: Iterable[Any]) -> None:
    """`worksheet.append(row)` with every text cell stored as text, never as a formula."""
    worksheet.append(list(row))
    for cell in worksheet[worksheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
