"""Providers' call budgets, counted once for the whole deployment.

Xero allows 60 calls a minute per tenant, QuickBooks 500 per realm, Lob 150 in 5 seconds:
limits on the *account*, whatever number of workers calls it. A budget kept in each
process lets N workers go N times too fast, so the count lives in one store — Redis
(`scale.limits`) when the hub runs on several processes, this process's memory otherwise —
through the `limits` library's moving window. A 429 feeds back into the shared count, so
every process pauses, not only the one that was refused.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from abc import ABC, abstractmethod

from limits import RateLimitItem, parse
from limits.errors import ConfigurationError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from hub.errors import RetriableError


class ApiBudget(ABC):
    """What a plugin sees (`context.budget`). `key` names the account the provider counts
    against ("xero:<tenant id>"); `rate` is written as `limits` parses it ("60/minute",
    "150 per 5 seconds")."""

    @abstractmethod
    async def take(self, key: str, rate: str, cost: int = 1) -> float:
        """Wait until `cost` calls fit in the budget, then spend them; the seconds waited."""

    @abstractmethod
    def spend_rest(self, key: str, rate: str) -> None:
        """The provider answered 429: spend what is left of the window, so every process
        waits for it to pass, not only the one that was refused."""

    @abstractmethod
    def provider_remaining(self, key: str, rate: str, remaining: int) -> None:
        """The provider says `remaining` calls are left (other apps count too): spend the
        difference when that is fewer than ours."""


@functools.lru_cache(maxsize=256)
def _item(rate: str) -> RateLimitItem:
    try:
        return parse(rate)
    except ValueError:
        raise ValueError(f"{rate!r} is not a rate: write e.g. 60/minute or 150 per 5 seconds") from None


class Budgets(ApiBudget):
    """The `limits` moving window over one storage."""

    def __init__(self, storage: Storage, where: str = "this process"):
        self.limiter = MovingWindowRateLimiter(storage)
        self.where = where

    @classmethod
    def local(cls) -> Budgets:
        """Counted in this process's memory (one workspace, one process)."""
        return cls(MemoryStorage())

    @classmethod
    @functools.cache
    def shared(cls, url: str) -> Budgets:
        """The deployment's budgets in the store at `url` (redis://…)."""
        try:
            return cls(storage_from_string(url), where=url.split("@")[-1])
        except ConfigurationError as exc:
            raise ValueError(f"scale.limits {url!r}: {exc}") from None

    def _call(self, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except Exception as exc:  # the count is unknown: wait rather than go over it
            raise RetriableError(f"the shared API budget store ({self.where}) did not answer: "
                                 f"{type(exc).__name__}: {exc}") from None

    async def take(self, key: str, rate: str, cost: int = 1) -> float:
        item, started = _item(rate), time.monotonic()
        while not self._call(self.limiter.hit, item, key, cost=cost):
            stats = self._call(self.limiter.get_window_stats, item, key)
            await asyncio.sleep(min(item.get_expiry(), max(0.01, stats.reset_time - time.time())))
        return time.monotonic() - started

    def spend_rest(self, key: str, rate: str) -> None:
        item = _item(rate)
        left = self._call(self.limiter.get_window_stats, item, key).remaining
        if left > 0:
            self._call(self.limiter.hit, item, key, cost=left)

    def provider_remaining(self, key: str, rate: str, remaining: int) -> None:
        item = _item(rate)
        ours = self._call(self.limiter.get_window_stats, item, key).remaining
        if remaining < ours:
            self._call(self.limiter.hit, item, key, cost=ours - remaining)


def per_second(rate: float) -> str:
    """A rate in messages per second (`rate_limit: 100/min` → 1.67) as a budget rate that
    never allows more: "100 per 60 seconds", "20 per 1 second", "1 per 3 seconds"."""
    for window in (1, 60, 3600):
        amount = rate * window
        if round(amount) >= 1 and abs(amount - round(amount)) < 1e-6:
            return f"{round(amount)} per {window} second"
    if rate >= 1:
        return f"{int(rate)} per 1 second"
    return f"1 per {math.ceil(1 / rate)} seconds"
