"""The `at:` grammar of a scenario step: an offset from the due date, in calendar or
business days. Part of the config's language, so `relance.yaml` is checked at load."""

from __future__ import annotations

import re
from dataclasses import dataclass

_OFFSET = re.compile(r"^\s*due\s*(?:([+-])\s*(\d+)\s*(d|bd|w))?\s*$")


@dataclass(frozen=True)
class Offset:
    days: int
    business: bool

    def __str__(self) -> str:
        sign = "+" if self.days >= 0 else "-"
        return f"due{sign}{abs(self.days)}{'bd' if self.business else 'd'}"


def parse_offset(text: str) -> Offset:
    """`due`, `due-7d`, `due+3d`, `due+2w`, `due+5bd` (business days)."""
    m = _OFFSET.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a step offset (write due-7d, due+3d, due+2w or due+5bd)")
    if not m.group(1):
        return Offset(0, False)
    n = int(m.group(2)) * (7 if m.group(3) == "w" else 1)
    return Offset(n if m.group(1) == "+" else -n, m.group(3) == "bd")
