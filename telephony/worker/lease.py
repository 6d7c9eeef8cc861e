"""Who leads: a lease with a fencing generation (docs/architecture.md "One
leader, standbys").

Every `manage.py telephony_worker` competes for one lease; the holder is
the leader and the only worker that talks to RingCentral and reads the
worker inbox. Each acquisition takes a new, higher `generation` (the
fencing token): everything the leader publishes carries it, and the
dashboard drops what a lower generation sends, so a leader that lost its
lease but has not noticed yet cannot roll the consoles back.

Three kinds, chosen by runtime.lease_from_settings():

- `RedisLease` (REDIS_URL): `SET key token NX PX ttl`, renewed by a
  compare-and-pexpire, released by a compare-and-del (Lua, atomic).
- `PostgresLease` (no Redis, PostgreSQL): `pg_try_advisory_lock` held by a
  dedicated connection; the server frees it when that session ends.
- `SoloLease` (SQLite: `make run`'s one process): no election; the one
  worker leads. Nothing else could reach its in-memory channel layer.

A lease is used by one task at a time (telephony.worker.leader).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Protocol

import psycopg
import redis.asyncio as aioredis

logger = logging.getLogger("telephony.worker.lease")

# A dead leader's lease runs out this long after its last renewal: the
# standby's takeover is this, plus its acquisition poll, plus the new
# worker's start (login, subscription, resync); 5 s in all (issue 13).
LEASE_TTL = 3.0
# Three renewals per ttl: one lost to a slow Redis is no loss of the lease.
RENEW_EVERY = 1.0
# How often a standby tries to take the lease.
ACQUIRE_EVERY = 1.0
# Redis counts the ttl from when a renewal ARRIVED; the holder counts it
# from when it SENT it, less this margin: the holder always stops acting
# before the lease can pass to anyone else, whatever small drift the two
# clocks have.
SAFETY_MARGIN = 0.3
# A Redis or PostgreSQL round trip slower than this counts as a failure
# (the renewal is tried again within the ttl).
STORE_TIMEOUT = 0.5

REDIS_KEY = "switchboard:worker:lease"
# pg_try_advisory_lock's key: any bigint, the same in every worker.
ADVISORY_LOCK = 0x5357_4254  # "SWBT"
POSTGRES_SEQUENCE = "switchboard_worker_generation"

# Generations are Redis's (or PostgreSQL's) clock in milliseconds, or the
# last one plus 1 when that is higher: still monotonic after the counter
# is lost (a Redis restarted without persistence), where a plain INCR
# would start again at 1 and be dropped by every dashboard as stale. Logs
# write it "g1764…" (a bare 13-digit run would be masked as a phone number).
_ACQUIRE = """
if not redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('get', KEYS[2]) or '0')
local generation = math.max(last + 1, now)
redis.call('set', KEYS[2], string.format('%d', generation))
return generation
"""
# A key that is simply gone was lost by the store (a restart, a flush:
# within the holder's deadline it cannot have expired, SAFETY_MARGIN), not
# taken: the holder takes it back, atomically, unless someone else already
# has, and keeps the counter at its generation. So a Redis restart costs no
# new term (a new RingCentral login, subscription and resync).
_RENEW = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
if holder then
  return 0
end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
if tonumber(redis.call('get', KEYS[2]) or '0') < tonumber(ARGV[3]) then
  redis.call('set', KEYS[2], ARGV[3])
end
return 1
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def holder_name() -> str:
    """This process as operators find it: hostname:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease(Protocol):
    """What telephony.worker.leader needs of a lease."""

    kind: str  # "redis", "postgres", "solo" (logs, /healthz)
    holder: str
    generation: int  # of the current (or last) acquisition; 0: never held
    ttl: float
    renew_every: float

    async def try_acquire(self) -> bool:
        """Take the lease if it is free (a new generation); never waits."""
        ...

    async def renew(self) -> bool:
        """Extend the lease: False when it is no longer ours. Raises when
        the store cannot be reached (the holder keeps trying within ttl)."""
        ...

    async def release(self) -> None:
        """Give the lease up if it is still ours (a clean stop)."""
        ...

    async def aclose(self) -> None: ...


class RedisLease:
    """The lease as a Redis key holding this process's token."""

    kind = "redis"

    def __init__(
        self,
        url: str,
        *,
        key: str = REDIS_KEY,
        holder: str | None = None,
        ttl: float = LEASE_TTL,
        renew_every: float = RENEW_EVERY,
    ) -> None:
        self.holder = holder or holder_name()
        # Unique even when a pid is reused on another host or run.
        self.token = f"{self.holder}:{uuid.uuid4().hex[:8]}"
        self.key, self.generation_key = key, f"{key}:generation"
        self.ttl, self.renew_every = ttl, renew_every
        self.generation = 0
        self._redis = aioredis.Redis.from_url(
            url, socket_timeout=STORE_TIMEOUT, socket_connect_timeout=STORE_TIMEOUT
        )
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)

    @property
    def _ttl_ms(self) -> int:
        return int(self.ttl * 1000)

    async def try_acquire(self) -> bool:
        keys = [self.key, self.generation_key]
        args: list[str | int] = [self.token, self._ttl_ms]
        generation = int(await self._acquire(keys=keys, args=args))
        if generation:
            self.generation = generation
        return bool(generation)

    async def renew(self) -> bool:
        keys = [self.key, self.generation_key]
        args: list[str | int] = [self.token, self._ttl_ms, self.generation]
        return bool(await self._renew(keys=keys, args=args))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.token])

    async def holder_now(self) -> str | None:
        """Whose token the key holds now (tests, diagnostics)."""
        value = await self._redis.get(self.key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def aclose(self) -> None:
        await self._redis.aclose()


class PostgresLease:
    """The lease as a session-level advisory lock on a connection of its own
    (never Django's: the lock must live exactly as long as this session)."""

    kind = "postgres"

    def __init__(
        self,
        conninfo: str,
        *,
        lock_id: int = ADVISORY_LOCK,
        sequence: str = POSTGRES_SEQUENCE,
        holder: str | None = None,
        ttl: float = LEASE_TTL,
        renew_every: float = RENEW_EVERY,
    ) -> None:
        self.conninfo, self.lock_id, self.sequence = conninfo, lock_id, sequence
        self.holder = holder or holder_name()
        self.ttl, self.renew_every = ttl, renew_every
        self.generation = 0
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    async def _connection(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self.conninfo,
                autocommit=True,
                connect_timeout=max(1, round(STORE_TIMEOUT * 4)),
                # The server notices a leader's silent death (a cut network,
                # not just a killed process) within about 4 s and frees the
                # lock; a killed process's socket closes at once anyway.
                options="-c tcp_keepalives_idle=2 -c tcp_keepalives_interval=1"
                " -c tcp_keepalives_count=2",
            )
        return self._conn

    async def try_acquire(self) -> bool:
        conn = await self._connection()
        row = await (
            await conn.execute("SELECT pg_try_advisory_lock(%s)", [self.lock_id])
        ).fetchone()
        if not row or not row[0]:
            return False
        try:
            self.generation = await self._next_generation(conn)
        except BaseException:
            await self.aclose()  # ends the session: the lock goes with it
            raise
        return True

    async def _next_generation(
        self, conn: psycopg.AsyncConnection[tuple[object, ...]]
    ) -> int:
        # Created on first use rather than by a migration: the lease is
        # taken before anything else touches the database.
        await conn.execute(f"CREATE SEQUENCE IF NOT EXISTS {self.sequence}")
        row = await (
            await conn.execute(
                "SELECT setval(%s, GREATEST(nextval(%s),"
                " (extract(epoch FROM clock_timestamp()) * 1000)::bigint))",
                [self.sequence, self.sequence],
            )
        ).fetchone()
        assert row is not None
        return int(str(row[0]))

    async def renew(self) -> bool:
        # The lock is the session's: while the session answers, it is ours.
        conn = self._conn
        if conn is None or conn.closed:
            return False
        try:
            await conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False  # the session (and so the lock) is gone
        return True

    async def release(self) -> None:
        conn = self._conn
        if conn is not None and not conn.closed:
            await conn.execute("SELECT pg_advisory_unlock(%s)", [self.lock_id])

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class SoloLease:
    """No election: the only worker there can be leads (SQLite, `serve`
    without Redis: one process, an in-memory channel layer)."""

    kind = "solo"

    def __init__(self, *, holder: str | None = None) -> None:
        self.holder = holder or holder_name()
        self.ttl, self.renew_every = 3600.0, 600.0
        self.generation = 0

    async def try_acquire(self) -> bool:
        self.generation = time.time_ns() // 1_000_000
        return True

    async def renew(self) -> bool:
        return True

    async def release(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
