"""Xero's wire: tenant header, the per-tenant limits, and Xero's `/Date(…)/` values.

Errors are mapped by the connector's base class (`hub.contracts.HttpConnector`; Xero's
message format in `XeroConnector.error_message`), and the bearer token with its refresh on
a 401 is the hub's `context.auth`.

Limits (per tenant): 5 concurrent calls, 60 calls in any 60 seconds, 5,000 a day. The
minute's calls are counted in the hub's shared budget (one count for every worker), lowered
by what `X-MinLimit-Remaining` says, so we pace below the limit instead of bouncing off it;
a 429 spends the rest of the window for every worker and is honoured here (`Retry-After`),
and the day limit running out pauses the connection until it resets.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import httpx

from hub.errors import RateLimitedError

_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def _ms_date(value: str) -> tuple[dt.datetime, dt.timedelta] | None:
    """`/Date(ms±hhmm)/`: the instant, and the offset of the organisation's local time."""
    m = _MS_DATE.match(value)
    if not m:
        return None
    offset = m.group(2) or "+0000"
    sign = -1 if offset[0] == "-" else 1
    shift = sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
    return dt.datetime.fromtimestamp(int(m.group(1)) / 1000, dt.UTC), shift


def xero_datetime(value: str | None) -> dt.datetime | None:
    """An instant (UTC). `/Date(0+0000)/` is Xero's "no date"."""
    if not value:
        return None
    ms = _ms_date(value)
    if ms:
        return None if ms[0].timestamp() == 0 else ms[0]
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def xero_date(value: str | None) -> dt.date | None:
    """The ledger's own date: `/Date(1426849200000+1300)/` is 21 March in Auckland, though
    its instant is still 20 March in UTC."""
    if not value:
        return None
    ms = _ms_date(value)
    if ms:
        return None if ms[0].timestamp() == 0 else (ms[0] + ms[1]).date()
    return dt.date.fromisoformat(value[:10])


def if_modified_since(since: str) -> str:
    """The header as the spec types it (date-time): UTC, with its `Z`."""
    return dt.datetime.fromisoformat(since).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Pacer:
    """One tenant's limits, counted in the deployment's shared budget (`context.budget`:
    every worker calling this tenant draws on one count): 60 calls in any 60 s, 5 at once."""

    RATE = "60/minute"

    CONCURRENT = 5

    def __init__(self, budget, enforce: bool = True):
        self.budget, self.enforce = budget, enforce
        self.throttled = 0

    def slot(self, tenant: str):
        """One of the tenant's 5 calls at once, counted for every worker."""
        if not self.enforce:
            return contextlib.nullcontext()
        return self.budget.slot(f"xero:{tenant}", self.CONCURRENT)

    async def wait_turn(self, tenant: str) -> None:
        if self.enforce:
            await self.budget.take(f"xero:{tenant}", self.RATE)

    def observe(self, tenant: str, response: httpx.Response) -> None:
        remaining = response.headers.get("X-MinLimit-Remaining")
        if not self.enforce:
            return
        if response.status_code == 429:  # every worker waits, not only this one
            self.budget.spend_rest(f"xero:{tenant}", self.RATE)
        elif remaining is not None and remaining.isdigit():
            # the server counts calls we did not make (other apps): trust the lower figure
            self.budget.provider_remaining(f"xero:{tenant}", self.RATE, int(remaining))


class XeroAPI:
    """Calls for one tenant, paced under its limits; `plugin` maps errors and holds the auth."""

    def __init__(self, plugin, base_url: str, tenant: str, pacer: Pacer):
        self.plugin, self.base, self.tenant, self.pacer = (
            plugin, base_url.rstrip("/").removesuffix("/api.xro/2.0") + "/api.xro/2.0", tenant, pacer)

    async def request(self, method: str, path: str, *, params: dict | None = None,
                      json_body: Any = None, modified_since: str | None = None,
                      accept: str = "application/json",
                      idempotency_key: str | None = None) -> httpx.Response:
        headers = {"xero-tenant-id": self.tenant, "Accept": accept}
        if idempotency_key:  # Xero answers a repeat of the key with the first result
            headers["Idempotency-Key"] = idempotency_key[:128]
        if modified_since:
            headers["If-Modified-Since"] = modified_since
        for attempt in range(4):
            await self.pacer.wait_turn(self.tenant)
            async with self.pacer.slot(self.tenant):
                r = await self.plugin.http.request(method, self.base + path, params=params,
                                                   json=json_body, headers=headers,
                                                   auth=self.plugin.context.auth)
            self.pacer.observe(self.tenant, r)
            if r.status_code == 429:
                self.pacer.throttled += 1
                wait = float(r.headers.get("Retry-After", "60"))
                if r.headers.get("X-Rate-Limit-Problem", "").lower() == "day" or \
                        r.headers.get("X-DayLimit-Remaining") == "0":
                    raise RateLimitedError(f"Xero's daily call limit for this organisation is used "
                                           f"up; syncing resumes in {wait / 3600:.1f} h", retry_after=wait)
                if attempt < 3 and wait <= 120:
                    await asyncio.sleep(wait)
                    continue
                raise RateLimitedError(f"Xero rate limit ({r.headers.get('X-Rate-Limit-Problem')})",
                                       retry_after=wait)
            break
        return self.plugin.checked(r, f"{method} {path}")

    async def get_json(self, path: str, **kw: Any) -> dict[str, Any]:
        r = await self.request("GET", path, **kw)
        if r.status_code == 304 or not r.content:
            return {}
        return json.loads(r.text, parse_float=Decimal)
