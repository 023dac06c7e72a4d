"""Reading messy exports: encodings, delimiters, decimal commas, date formats.

Every parser raises `ValueError` with a sentence a person can act on; the reader turns
it into a `RecordProblem` naming file:line:column.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d")
MONTH_FIRST_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m.%d.%Y", "%m-%d-%Y", "%Y/%m/%d")
_NUMERIC_DATE = re.compile(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{4}\s*")
_SPACES = re.compile(r"[\s\u00a0\u202f']")
_PLAIN = re.compile(r"-?\d+(?:([.,])\d+)?")  # 1234 / 1234.56 / -1234,56: most exports
# 1,234 / 1.234: a thousands separator, or three decimals? (see `parse_decimal`)
GROUPED = r"-?[1-9]\d{0,2}[.,]\d{3}"
_GROUPED = re.compile(GROUPED)


def detect_encoding(sample: bytes, configured: str = "auto") -> str:
    """UTF-8 (with or without BOM) when it decodes, else Windows-1252."""
    if configured != "auto":
        return configured
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still UTF-8
        if exc.start >= len(sample) - 3:
            return "utf-8"
        return "cp1252"


def detect_delimiter(first_line: str, configured: str = "auto") -> str:
    if configured != "auto":
        return "\t" if configured in ("tab", "\\t") else configured
    counts = {d: first_line.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def open_text(path: Path, encoding: str = "auto") -> tuple[io.TextIOWrapper, str]:
    with path.open("rb") as f:
        sample = f.read(65536)
    enc = detect_encoding(sample, encoding)
    return path.open("r", encoding=enc, newline=""), enc


def parse_decimal(text: str, mode: str = "auto", *, places: int = 2) -> Decimal:
    """`1234.56`, `1 234,56`, `1.234,56`, `1,234.56`, `(12.00)`, `-12`, `12 €` → Decimal.

    `mode` "auto" guesses the decimal separator. `1,234` and `1.234` are read as 1234
    unless the currency has three decimals (`places`: 3 for KWD, BHD, …): an export
    writes amounts with their currency's decimals, so ¥1,234 and €1.500 are thousands.
    A separator that occurs twice (`1,234,567`) separates thousands."""
    plain = _PLAIN.fullmatch(text)
    if plain and (mode == "auto" or plain[1] in (None, mode)):
        if mode == "auto" and plain[1] and places != 3 and _GROUPED.fullmatch(text):
            return Decimal(text.replace(plain[1], ""))
        return Decimal(text.replace(",", ".") if plain[1] == "," else text)
    raw = text
    s = _SPACES.sub("", text.strip())
    s = re.sub(r"^(?:[€$£¥]|[A-Z]{3})|(?:[€$£¥]|[A-Z]{3})$", "", s)  # "12 €", "EUR 12"
    s = s.replace("\u2212", "-")  # the typographic minus sign
    negative = s.startswith("(") and s.endswith(")")
    s = s.strip("()")
    if len(s) > 1 and s.endswith("-") and s[0] != "-":  # 12,50- (SAP and other ERPs)
        s, negative = s[:-1], not negative
    if not s:
        raise ValueError("empty amount")
    if mode == ",":
        s = s.replace(".", "").replace(",", ".")
    elif mode == ".":
        s = s.replace(",", "")
    elif "," in s and "." in s:
        # the last separator is the decimal one: 1.234,56 vs 1,234.56
        decimal_comma = s.rfind(",") > s.rfind(".")
        s = s.replace(".", "").replace(",", ".") if decimal_comma else s.replace(",", "")
    else:
        sep = "," if "," in s else "."
        grouped = s.count(sep) > 1 or (places != 3 and _GROUPED.fullmatch(s))
        s = s.replace(sep, "") if grouped else s.replace(",", ".")  # 1,234,567 / €1.500
    try:
        value = Decimal(s)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not an amount")
    return -value if negative else value


@functools.lru_cache(maxsize=8192)
def parse_date(text: str, formats: tuple[str, ...]) -> dt.date:
    """Cached: an export holds few distinct dates, and strptime is slow."""
    value = text.strip()
    for fmt in formats:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    shown = ", ".join(dt.date(2026, 11, 24).strftime(f) for f in formats)
    raise ValueError(f"{value!r} is not a date (expected e.g. {shown}; set `date_formats`)")


def month_first(cells) -> bool:
    """Whether the numeric dates among `cells` are written month first (11/24/2026): some
    has a second number above 12 and none a first one. 03/04/2026 alone says nothing,
    and reads day first."""
    day_first = month_first = False
    for text in cells:
        m = _NUMERIC_DATE.fullmatch(text)
        if m:
            day_first |= int(m[1]) > 12
            month_first |= int(m[2]) > 12
    return month_first and not day_first


def cell_text(value) -> str:
    """A CSV or XLSX cell as text (XLSX numbers and dates converted without float error)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value == int(value):
            return str(int(value))
        text = repr(value)
        # a number, not text: 12.345 must not read as twelve thousand (see parse_decimal)
        return text + "0" if _GROUPED.fullmatch(text) else text
    return str(value)


def csv_rows(path: Path, encoding: str, delimiter: str):
    """(line number, row) pairs; line numbers count physical lines, header is line 1."""
    f, _enc = open_text(path, encoding)
    with f:
        first = f.readline()
        f.seek(0)
        reader = csv.reader(f, delimiter=detect_delimiter(first, delimiter))
        for row in reader:
            yield reader.line_num, row


def xlsx_rows(path: Path):
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        for i, row in enumerate(ws.iter_rows(values_only=True), 1):
            yield i, [cell_text(v) for v in row]
    finally:
        wb.close()
