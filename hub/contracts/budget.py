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
import contextlib
import functools
import math
import random
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

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

    @abstractmethod
    def slot(self, key: str, concurrent: int) -> AbstractAsyncContextManager[None]:
        """`async with budget.slot(key, 5):` — one of at most `concurrent` calls in flight
        on `key` in the whole deployment (Xero's 5 per tenant, QuickBooks' 10 per realm)."""


#: share of a provider's rate left unused: the provider counts arrivals, which come a few
#: milliseconds after our count (network, a busy event loop); measured with 4 workers on
#: one 40/s account, pacing at exactly the rate had 7 % of sends arrive over it, 5 % below
#: it none (make bench-scale: scale_tenant_limit_violations)
HEADROOM = 0.05


@functools.lru_cache(maxsize=256)
def _item(rate: str) -> RateLimitItem:
    """The window we pace to: the provider's `rate` less the headroom (from 20 calls up;
    below that one call a window is already far from the edge)."""
    try:
        item = parse(rate)
    except ValueError:
        raise ValueError(f"{rate!r} is not a rate: write e.g. 60/minute or 150 per 5 seconds") from None
    spare = math.ceil(item.amount * HEADROOM) if item.amount >= 20 else 0
    return type(item)(item.amount - spare, item.multiples, item.namespace)


class Budgets(ApiBudget):
    """Rates: the `limits` moving window over one storage. Calls in flight: in Redis, one
    of N redis-py locks per key (each with a time-to-live, so a killed worker's slot frees
    itself); in one process, an asyncio semaphore per key."""

    #: seconds a slot is held at most: longer than any call with its retries (4 × 30 s
    #: timeouts and their backoff); a killed worker's slot comes back after it
    SLOT_TTL = 300

    def __init__(self, storage: Storage, where: str = "this process", redis=None):
        self.limiter = MovingWindowRateLimiter(storage)
        self.where, self.redis = where, redis
        self._semaphores: dict[tuple[str, int], asyncio.Semaphore] = {}

    @classmethod
    def local(cls) -> Budgets:
        """Counted in this process's memory (one workspace, one process)."""
        return cls(MemoryStorage())

    @classmethod
    @functools.cache
    def shared(cls, url: str) -> Budgets:
        """The deployment's budgets in the store at `url` (redis://…)."""
        from redis import Redis

        try:
            return cls(storage_from_string(url, socket_timeout=5), where=url.split("@")[-1],
                       redis=Redis.from_url(url, socket_timeout=5))
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

    @contextlib.asynccontextmanager
    async def slot(self, key: str, concurrent: int) -> AsyncIterator[None]:
        if self.redis is None:
            loop = id(asyncio.get_running_loop())
            sem = self._semaphores.setdefault((key, loop), asyncio.Semaphore(concurrent))
            async with sem:
                yield
            return
        lock, pause = None, 0.01
        while lock is None:
            for i in random.sample(range(concurrent), concurrent):
                candidate = self.redis.lock(f"relance:slot:{key}:{i}", timeout=self.SLOT_TTL)
                if self._call(candidate.acquire, blocking=False):
                    lock = candidate
                    break
            else:  # every slot taken: wait, longer each time (up to 0.25 s), not spin
                await asyncio.sleep(pause * (0.5 + random.random()))
                pause = min(0.25, pause * 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # expired meanwhile: already free
                lock.release()

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
