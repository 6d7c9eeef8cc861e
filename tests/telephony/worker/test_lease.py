"""The leader's lease against the real Redis and PostgreSQL on their
standard local ports (each test on keys and locks of its own), and the
standby/leader loop that keeps it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
import redis.asyncio as aioredis

from telephony.worker.leader import Fence, Leadership, LeaseLost
from telephony.worker.lease import PostgresLease, RedisLease
from tests.support import WAIT

REDIS = os.environ.get("SWITCHBOARD_TEST_REDIS_LEASE", "redis://127.0.0.1:6379/12")
POSTGRES = os.environ.get(
    "SWITCHBOARD_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432"
)
# Short, so a lease runs out within a test; renewals still 5 per ttl.
TTL, RENEW = 1.0, 0.2


@pytest.fixture
async def redis_key() -> AsyncIterator[str]:
    key = f"test:lease:{uuid.uuid4().hex}"
    yield key
    async with aioredis.Redis.from_url(REDIS) as client:
        await client.delete(key, f"{key}:generation")


def redis_lease(key: str, holder: str, ttl: float = TTL) -> RedisLease:
    return RedisLease(REDIS, key=key, holder=holder, ttl=ttl, renew_every=RENEW)


@pytest.fixture
async def leases(redis_key: str) -> AsyncIterator[tuple[RedisLease, RedisLease]]:
    one, two = redis_lease(redis_key, "one"), redis_lease(redis_key, "two")
    yield one, two
    for lease in (one, two):
        await lease.aclose()


async def test_one_holder_at_a_time_and_each_acquisition_a_higher_generation(
    leases,
):
    one, two = leases
    assert await one.try_acquire()
    assert not await two.try_acquire()
    assert await one.renew()
    await two.release()  # not its lease: nothing happens
    assert (await one.holder_now() or "").startswith("one:")
    await one.release()
    assert await two.try_acquire()
    assert two.generation > one.generation
    assert not await one.renew()  # one's token is not the key's any more


async def test_a_lease_not_renewed_runs_out_and_passes_on(redis_key):
    one = redis_lease(redis_key, "one", ttl=0.3)
    two = redis_lease(redis_key, "two", ttl=0.3)
    try:
        assert await one.try_acquire()
        deadline = time.monotonic() + WAIT
        while not await two.try_acquire():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert two.generation > one.generation
        assert not await one.renew()
    finally:
        await one.aclose()
        await two.aclose()


async def test_the_generation_stays_monotonic_when_redis_loses_its_counter(
    leases, redis_key
):
    one, two = leases
    assert await one.try_acquire()
    await one.release()
    async with aioredis.Redis.from_url(REDIS) as client:
        await client.delete(f"{redis_key}:generation")  # a Redis restarted empty
    assert await two.try_acquire()
    assert two.generation > one.generation


async def test_a_holder_takes_back_a_lease_the_store_lost_unless_taken(
    leases, redis_key
):
    one, two = leases
    assert await one.try_acquire()
    async with aioredis.Redis.from_url(REDIS) as client:
        await client.delete(redis_key, f"{redis_key}:generation")  # a restart
        assert await one.renew()  # no new term: taken back
        assert (await one.holder_now() or "").startswith("one:")
        assert int(await client.get(f"{redis_key}:generation")) == one.generation
        await client.delete(redis_key)
    assert await two.try_acquire()  # someone was quicker this time
    assert not await one.renew()
    assert two.generation > one.generation


@pytest.fixture
async def pg_lease_args() -> AsyncIterator[dict[str, Any]]:
    sequence = f"test_lease_{uuid.uuid4().hex[:12]}"
    args = {
        "conninfo": f"{POSTGRES}/postgres",
        "lock_id": random.randrange(1, 2**62),
        "sequence": sequence,
        "ttl": TTL,
        "renew_every": RENEW,
    }
    yield args
    async with await psycopg.AsyncConnection.connect(
        f"{POSTGRES}/postgres", autocommit=True
    ) as conn:
        await conn.execute(f"DROP SEQUENCE IF EXISTS {sequence}")


async def test_the_postgres_lease_is_an_advisory_lock_freed_with_its_session(
    pg_lease_args,
):
    one = PostgresLease(holder="one", **pg_lease_args)
    two = PostgresLease(holder="two", **pg_lease_args)
    try:
        assert await one.try_acquire()
        assert not await two.try_acquire()
        assert await one.renew()
        # The holder's session dies (as with kill -9): the server frees the
        # lock at once, and the holder learns it lost the lease.
        async with await psycopg.AsyncConnection.connect(
            f"{POSTGRES}/postgres", autocommit=True
        ) as admin:
            assert one._conn is not None
            await admin.execute(
                "SELECT pg_terminate_backend(%s)", [one._conn.info.backend_pid]
            )
        assert not await one.renew()
        assert await two.try_acquire()
        assert two.generation > one.generation
        await two.release()
        assert await one.try_acquire()  # a new session: back in the race
    finally:
        await one.aclose()
        await two.aclose()


class FlakyLease:
    """A lease whose store can be made unreachable (renewals raise)."""

    kind, holder, ttl, renew_every = "fake", "fake:1", TTL, RENEW

    def __init__(self) -> None:
        self.generation = 0
        self.reachable = True
        self.free = True

    async def try_acquire(self) -> bool:
        if not (self.reachable and self.free):
            return False
        self.free, self.generation = False, self.generation + 1
        return True

    async def renew(self) -> bool:
        if not self.reachable:
            raise ConnectionError("store unreachable")
        return True

    async def release(self) -> None:
        self.free = True

    async def aclose(self) -> None:
        return None


@contextlib.asynccontextmanager
async def serving(leadership: Leadership, term: Any) -> AsyncIterator[asyncio.Task]:
    task = asyncio.create_task(leadership.serve(term))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_leader_that_cannot_renew_stops_acting_before_its_ttl_runs_out():
    lease = FlakyLease()
    leadership = Leadership(lease, acquire_every=0.05)
    started: asyncio.Queue[Fence] = asyncio.Queue()
    stopped = asyncio.Event()

    async def term(fence: Fence) -> None:
        started.put_nowait(fence)
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    async with serving(leadership, term), asyncio.timeout(WAIT):
        first = await started.get()
        lease.reachable = False
        cut = time.monotonic()
        await stopped.wait()
        # Stopped before the store's ttl (counted from the last renewal,
        # which was at most RENEW before the cut) could hand the lease on.
        assert time.monotonic() - cut < TTL
        with pytest.raises(LeaseLost):
            first.check()
        await leadership.standing_by.wait()
        lease.reachable, lease.free = True, True  # the store is back, free
        second = await started.get()
        assert (first.generation, second.generation) == (1, 2)
        second.check()


async def test_a_standby_takes_over_when_the_leader_loses_its_redis_lease(
    redis_key,
):
    leases = [redis_lease(redis_key, name) for name in ("one", "two")]
    leaderships = [Leadership(lease, acquire_every=0.05) for lease in leases]
    started: asyncio.Queue[tuple[str, Fence]] = asyncio.Queue()
    stopped: asyncio.Queue[str] = asyncio.Queue()

    def term_of(name: str) -> Any:
        async def term(fence: Fence) -> None:
            started.put_nowait((name, fence))
            try:
                await asyncio.Event().wait()
            finally:
                stopped.put_nowait(name)  # cancelled: stopped acting

        return term

    async with (
        serving(leaderships[0], term_of("one")),
        serving(leaderships[1], term_of("two")),
        asyncio.timeout(WAIT),
    ):
        first, fence = await started.get()
        standby = leaderships[1 if first == "one" else 0]
        await standby.standing_by.wait()
        assert started.empty()  # exactly one leads
        # Someone else takes the key (as if the leader's lease had run out):
        # the leader notices at its next renewal and stops; nobody leads
        # until that someone's lease runs out too, then one of the two does.
        async with aioredis.Redis.from_url(REDIS) as client:
            await client.set(redis_key, "intruder", px=int(TTL * 1000))
        assert await stopped.get() == first
        with pytest.raises(LeaseLost):
            fence.check()
        _, second = await started.get()
        assert second.generation > fence.generation
    for lease in leases:
        await lease.aclose()
