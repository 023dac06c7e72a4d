"""Incremental reads on `write_date` that can neither loop nor skip.

Odoo stores `write_date` with microseconds but answers in whole seconds, and one
transaction stamps hundreds of records with the same instant — its start, so a long
transaction commits records dated before others already visible. Paging on the value
it answers therefore loops (a tie wider than a page) or skips (a late commit). Instead,
each pass:

1. notes the newest `write_date` visible when it starts (the next high-water mark);
2. reads every record with `write_date` ≥ the previous mark minus a safety window
   (late commits), paging on `id` alone, which no write moves;
3. reports only records whose content changed since it last read them: the records of
   the window are remembered by a digest of their fields, so re-reading the window is
   free of false changes, and a second change in the same second is still seen.

The pass's position rides in the cursor after every page, so a sync cut off resumes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

SECONDS = "%Y-%m-%d %H:%M:%S"


def _digest(row: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(row, sort_keys=True, default=str).encode(),
                           digest_size=6).hexdigest()


def _minus(stamp: str, window: dt.timedelta) -> str:
    return (dt.datetime.strptime(stamp, SECONDS) - window).strftime(SECONDS)


async def changed_pages(call: Callable[..., Awaitable[Any]], model: str, domain: list,
                        fields: list[str], raw: str, *, page_size: int,
                        window: dt.timedelta) -> AsyncIterator[tuple[list[dict], str]]:
    """(changed rows, cursor to store) per page; the last pair closes the pass."""
    state = _load(raw)
    run = state.get("run")
    if run is None:  # a new pass
        newest = await call(model, "search_read", domain=domain, fields=["write_date"],
                            order="write_date desc, id desc", limit=1)
        run = {"since": _minus(state["mark"], window) if state.get("mark") else None,
               "after": 0, "next": newest[0]["write_date"] if newest else state.get("mark")}
    keep_from = _minus(run["next"], window) if run["next"] else None
    # id -> (write_date, digest) as last read, for records inside the window: the last
    # pass kept those this pass re-reads, and this one keeps those the next will
    seen: dict[str, list[str]] = dict(state.get("seen", {}))
    while True:
        bound = [("write_date", ">=", run["since"])] if run["since"] else []
        rows = await call(model, "search_read", domain=domain + bound + [("id", ">", run["after"])],
                          fields=fields, order="id asc", limit=page_size)
        if not rows:
            break
        changed = []
        for row in rows:
            key, digest = str(row["id"]), _digest(row)
            if seen.get(key, [None, None])[1] != digest:
                changed.append(row)
            stamp = row.get("write_date") or ""
            if keep_from and stamp >= keep_from:
                seen[key] = [stamp, digest]
        run = {**run, "after": rows[-1]["id"]}
        yield changed, json.dumps({"mark": state.get("mark"), "run": run, "seen": seen})
        if len(rows) < page_size:
            break
    kept = {k: v for k, v in seen.items() if keep_from and v[0] >= keep_from}
    yield [], json.dumps({"mark": run["next"], "seen": kept})  # the pass is over


def _load(raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    if raw.startswith("{"):
        return json.loads(raw)
    # a cursor from before (write_date|id keyset): re-read from that date, once
    date, _, _ = raw.partition("|")
    return {"mark": date if date[:4] > "1970" else None}
