"""A column of a page parsed at once, the per-cell work done in C.

A large export is mostly clean: plain amounts (`1234,56`), dates in one format, a few
distinct currencies and statuses. For such a column, one regular expression checks every
amount of the page in one pass over the joined text and `map(Decimal, …)` converts them;
dates, currencies and statuses are parsed once per distinct value and looked up. Each
function returns None when a cell is not certain to parse (a wrong amount, an unknown
date): the page then goes through the row-by-row reader, which names the place of
every problem. Both paths give the same records (tested).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal

from plugins.csv.parsing import GROUPED, parse_date, parse_decimal

SEP = "\x1f"  # the ASCII unit separator: cannot be part of a plain amount
_NUMBER = {"auto": r"-?\d+(?:[.,]\d+)?", ".": r"-?\d+(?:\.\d+)?", ",": r"-?\d+(?:,\d+)?"}
# a whole column of plain amounts (what `parse_decimal` reads with its first regex)
_PLAIN_COLUMN = {mode: re.compile(f"{n}(?:{SEP}{n})*") for mode, n in _NUMBER.items()}
# a cell `parse_decimal` may read as thousands (1,234), depending on its currency
_GROUPED_CELL = re.compile(f"(?:^|{SEP}){GROUPED}(?:{SEP}|$)")


def amounts(cells: Sequence[str], mode: str, places: Sequence[int]) -> list[Decimal] | None:
    """Every cell as a Decimal, or None if one is empty or not an amount. `places`: the
    decimals of each cell's currency."""
    joined = SEP.join(cells)
    if _PLAIN_COLUMN[mode].fullmatch(joined) and not (
            mode == "auto" and _GROUPED_CELL.search(joined)):
        if "," in joined:  # a plain amount with a comma has a decimal comma
            joined = joined.replace(",", ".")
        return list(map(Decimal, joined.split(SEP)))
    # thousands separators, currency signs, parentheses: each cell on its own
    try:
        return [parse_decimal(c, mode, places=p) if c else _empty()
                for c, p in zip(cells, places, strict=True)]
    except ValueError:
        return None


def _empty():
    raise ValueError("empty amount")


def dates(cells: Sequence[str], formats: tuple[str, ...], known: dict, *,
          optional: bool) -> list | None:
    """Every cell as a date (an empty one as None if `optional`), or None if one is not
    a date. `known` caches the dates parsed so far (an export holds few distinct ones)."""
    distinct = set(cells)
    lookup = known
    if "" in distinct:
        if not optional:
            return None
        distinct.discard("")
        lookup = {**known, "": None}
    for text in distinct.difference(known):
        try:
            lookup[text] = known[text] = parse_date(text, formats)
        except ValueError:
            return None
    return list(map(lookup.__getitem__, cells))


def mapped(cells: Sequence[str], convert: Callable[[str], object]) -> list | None:
    """`convert` applied once per distinct cell; None if it returns None for one."""
    table = {}
    for text in set(cells):
        value = convert(text)
        if value is None:
            return None
        table[text] = value
    return list(map(table.__getitem__, cells))
