"""Reference rates as dated timelines: shipped with the package (`rates.yaml`, each series
citing its source) and overridable per workspace (`law/rates.yaml`), so an admin adds the
next half-year's rate without waiting for a release. A date past what a series knows is
refused: no claim is computed on a guessed rate."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from hub.errors import ConfigError

SHIPPED = Path(__file__).with_name("rates.yaml")


@dataclass(frozen=True)
class Series:
    name: str
    source: str
    points: tuple[tuple[dt.date, Decimal], ...]  # (from, rate in percent), ascending
    known_until: dt.date
    origin: str  # the file(s) it was read from, for error messages

    def at(self, day: dt.date) -> Decimal:
        """The rate in force on `day`."""
        if day > self.known_until:
            raise ConfigError(
                f"the {self.name} rate on {day} is not known yet (the timeline stops at "
                f"{self.known_until}): add it to law/rates.yaml in the workspace (source: "
                f"{self.source})", place=self.origin)
        found = [rate for start, rate in self.points if start <= day]
        if not found:
            raise ConfigError(f"no {self.name} rate before {self.points[0][0]}; add the one "
                              f"in force on {day} to law/rates.yaml", place=self.origin)
        return found[-1]


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot read the rates: {exc}", place=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("expected series names at the top level (ecb_mro: …)", place=str(path))
    return data


def load(workspace_root: Path | None = None) -> dict[str, Series]:
    """The shipped timelines with the workspace's entries merged over them: read again only
    when one of the files changed (a claim per message must not parse YAML each time)."""
    files = (SHIPPED,) + ((workspace_root / "law" / "rates.yaml",) if workspace_root else ())
    stamps = tuple((str(f), f.stat().st_mtime_ns if f.exists() else None) for f in files)
    return _load(stamps)


@functools.lru_cache(maxsize=16)
def _load(stamps: tuple[tuple[str, int | None], ...]) -> dict[str, Series]:
    merged: dict[str, dict] = {}
    origins: dict[str, str] = {}
    files = [Path(name) for name, _ in stamps]
    for path in files:
        if not path.exists():
            continue
        for name, body in _read(path).items():
            if not isinstance(body, dict):
                raise ConfigError(f"series {name}: expected source, rates, known_until",
                                  place=str(path))
            into = merged.setdefault(name, {"rates": {}})
            origins[name] = ", ".join(filter(None, (origins.get(name), str(path))))
            for key in ("source", "known_until"):
                if key in body:
                    into[key] = body[key]
            for i, point in enumerate(body.get("rates") or ()):
                try:
                    start = point["from"] if isinstance(point["from"], dt.date) else \
                        dt.date.fromisoformat(str(point["from"]))
                    into["rates"][start] = Decimal(str(point["rate"]))
                except (KeyError, TypeError, ValueError, InvalidOperation):
                    raise ConfigError(f"series {name}, rate #{i + 1}: write "
                                      "{from: YYYY-MM-DD, rate: \"3.15\"}", place=str(path)) from None
    out = {}
    for name, body in merged.items():
        points = tuple(sorted(body["rates"].items()))
        until = body.get("known_until") or (points[-1][0] if points else dt.date.min)
        if not isinstance(until, dt.date):
            until = dt.date.fromisoformat(str(until))
        out[name] = Series(name, body.get("source", ""), points, max(until, points[-1][0])
                           if points else until, origins[name])
    return out
