"""Providers' call budgets are one count for every process calling the account."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from limits.storage import storage_from_string

from hub.contracts.budget import Budgets, per_second
from hub.errors import RetriableError

REDIS = "redis://127.0.0.1:6379/9"


def redis_or_skip() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_timeout=2).ping()
    except Exception as exc:
        pytest.skip(f"Redis on 127.0.0.1:6379 is not reachable: {exc}")
    return REDIS


def two_processes() -> tuple[Budgets, Budgets]:
    """Two budget objects over one Redis, as two workers have."""
    url = redis_or_skip()
    return Budgets(storage_from_string(url)), Budgets(storage_from_string(url))


@pytest.mark.redis
def test_two_workers_share_one_tenant_budget():
    a, b = two_processes()
    key = f"xero:{uuid.uuid4()}"

    stamps: list[float] = []

    async def calls(budget: Budgets, n: int) -> None:
        for _ in range(n):
            await budget.take(key, "5 per 2 seconds")
            stamps.append(time.monotonic())

    async def both():
        await asyncio.gather(calls(a, 4), calls(b, 4))

    started = time.monotonic()
    asyncio.run(both())
    # eight calls on a budget of five per two seconds: five at once, three after the window
    assert len(stamps) == 8
    assert sum(1 for t in stamps if t - started < 1.9) == 5
    assert max(stamps) - started >= 1.9


@pytest.mark.redis
def test_a_429_makes_every_worker_wait():
    a, b = two_processes()
    key = f"quickbooks:{uuid.uuid4()}"
    asyncio.run(a.take(key, "100 per 2 seconds"))
    a.spend_rest(key, "100 per 2 seconds")  # worker a was refused by the provider
    waited = asyncio.run(b.take(key, "100 per 2 seconds"))
    assert waited >= 1.5  # worker b, which was never refused, waits out the window too


@pytest.mark.redis
def test_the_provider_count_lowers_ours():
    a, b = two_processes()
    key = f"xero:{uuid.uuid4()}"
    asyncio.run(a.take(key, "10 per 2 seconds"))
    a.provider_remaining(key, "10 per 2 seconds", 0)  # other apps used the tenant's minute
    assert asyncio.run(b.take(key, "10 per 2 seconds")) >= 1.5


def test_an_unreachable_budget_store_holds_the_call_rather_than_guess():
    budget = Budgets(storage_from_string("redis://127.0.0.1:1/0"), where="127.0.0.1:1")
    with pytest.raises(RetriableError, match="budget store"):
        asyncio.run(budget.take("xero:t", "60/minute"))


@pytest.mark.parametrize(("rate", "written"), [
    (20, "20 per 1 second"), (100 / 60, "100 per 60 second"), (0.3, "18 per 60 second"),
    (1000 / 3600, "1000 per 3600 second")])
def test_channel_rates_become_budgets_that_never_allow_more(rate, written):
    assert per_second(rate) == written


@pytest.mark.redis
def test_calls_in_flight_are_counted_for_every_worker():
    import redis as redis_lib

    url = redis_or_skip()
    a, b = (Budgets(storage_from_string(url), redis=redis_lib.Redis.from_url(url)) for _ in "ab")
    key, in_flight, most = f"xero:{uuid.uuid4()}", [0], [0]

    async def call(budget: Budgets):
        async with budget.slot(key, 2):
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            await asyncio.sleep(0.05)
            in_flight[0] -= 1

    async def both():
        await asyncio.gather(*(call(a) for _ in range(3)), *(call(b) for _ in range(3)))
    asyncio.run(both())
    assert most[0] == 2  # two at once across both workers, not two each


def test_the_budget_paces_a_little_below_the_providers_rate():
    from hub.contracts.budget import _item

    # providers count arrivals, a few ms after our count: 5 % is kept spare from 20 calls up
    assert _item("60/minute").amount == 57 and _item("500/minute").amount == 475
    assert _item("150 per 5 seconds").amount == 142
    assert _item("5 per 2 seconds").amount == 5 and _item("1/second").amount == 1
