"""One leader, standbys, for real: two `telephony_worker` processes, two
daphnes, the embedded RingCentral, Redis and PostgreSQL. Exactly one worker
subscribes; kill -9 it and the other takes over within 5 s, while consoles
on both daphnes follow the hand-over to RingCentral's truth with no update
lost or repeated, and a command sent just before the kill runs at most
once."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT
from tests.support import WAIT
from tests.support.console import Console
from tests.support.failover import (
    CONNECTED,
    LEADING,
    MANAGE,
    Cluster,
    cluster,
    database,
    kill,
    logged_at,
    subscriptions,
)
from tests.support.served import Process, answers, free_port, login_cookie
from tests.support.sim import phone, place_call
from tests.support.worker import LIVE, ground_truth

REDIS = os.environ.get("SWITCHBOARD_TEST_REDIS_FAILOVER", "redis://127.0.0.1:6379/10")
# A Redis database per cluster: the workers' lease is one key per database.
SERVE_REDIS = os.environ.get(
    "SWITCHBOARD_TEST_REDIS_SERVE", "redis://127.0.0.1:6379/14"
)
PASSWORD = "failover-test-" + uuid.uuid4().hex
# Lease ttl 3 s + a standby's poll 1 s + the new worker's login and
# subscription: issue 13's bound.
TAKEOVER_BOUND = 5.0


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("cluster")
    with cluster(redis_url=REDIS, password=PASSWORD, directory=tmp) as built:
        yield built


async def open_console(url: str) -> Console:
    cookie = await asyncio.to_thread(login_cookie, url, "sup", PASSWORD)
    return await (await Console.open(url, cookie)).synced()


async def talking_call(sim: httpx.AsyncClient) -> str:
    session_id = await place_call(sim, auto_answer=False, talk_seconds=None)
    await phone(sim, session_id, "answer")
    return session_id


def floor_of(console: Console) -> dict[str, dict[str, str]]:
    """{call: {live leg: status}} as a console shows it (ground_truth's form)."""
    view = {}
    for call_id, call in console.calls.items():
        legs = [call.get("agent"), call.get("customer"), *call.get("others", [])]
        live = {
            leg["id"]: leg["status"]
            for leg in legs
            if leg and "id" in leg and leg["status"] not in LIVE
        }
        if live:
            view[call_id] = live
    return view


async def settle(consoles: list[Console], sim: httpx.AsyncClient) -> None:
    """Until every console's floor equals RingCentral's truth (re-read
    while the floor settles), within WAIT * 2."""
    async with asyncio.timeout(WAIT * 2):
        while True:
            truth = await ground_truth(sim)
            try:
                for one in consoles:
                    async with asyncio.timeout(0.5):
                        await one.until(lambda c, t=truth: floor_of(c) == t)
                return
            except TimeoutError:
                continue


async def test_one_worker_subscribes_and_a_standby_takes_over_a_killed_leader(
    deployment: Cluster,
) -> None:
    leader = deployment.leader()
    standby = next(w for w in deployment.workers if w is not leader)
    assert not any("stream connected" in line for line in standby.lines)
    assert any("standing by" in line for line in standby.lines)
    assert len(await asyncio.to_thread(deployment.subscriptions)) == 1
    consoles = [await open_console(url) for url in deployment.urls]
    try:
        await follow_a_failover(deployment, consoles, leader, standby)
    finally:
        for one in consoles:
            await one.close()


async def follow_a_failover(
    deployment: Cluster, consoles: list[Console], leader: Process, standby: Process
) -> None:
    old_generation = consoles[0].worker["generation"]
    async with httpx.AsyncClient(base_url=deployment.simulator, timeout=WAIT) as sim:
        calls = [await talking_call(sim) for _ in range(3)]
        await settle(consoles, sim)
        held = calls[0]
        await consoles[0].send(
            {
                "type": "command",
                "requestId": "failover-hold",
                "action": "hold",
                "sessionId": held,
                "partyId": consoles[0].calls[held]["agent"]["id"],
            }
        )
        killed = await asyncio.to_thread(deployment.kill, leader)
        # The floor moves while nobody leads.
        await phone(sim, calls[1], "hangup")
        await phone(sim, calls[2], "hold")
        calls.append(await talking_call(sim))

        led = await asyncio.to_thread(logged_at, standby, LEADING, killed)
        subscribed = await asyncio.to_thread(logged_at, standby, CONNECTED, killed)
        assert subscribed - killed < TAKEOVER_BOUND, (led - killed, subscribed - killed)
        assert len(await asyncio.to_thread(deployment.subscriptions)) == 1
        assert deployment.leader() is standby
        holder = f"{socket.gethostname()}:{standby.popen.pid}"
        for one in consoles:  # the hand-over as each console sees it
            await one.until(
                lambda c: (
                    c.worker.get("leader") == holder
                    and c.worker.get("connected") is True
                )
            )
            assert one.worker["generation"] > old_generation
        await settle(consoles, sim)
        await sim.post(f"/_sim/calls/{calls[3]}/phone", json={"action": "hold"})
        await settle(consoles, sim)  # and live after it

    rows = await asyncio.to_thread(deployment.audit_rows, held, "hold")
    assert len(rows) <= 1, rows  # sent once: executed at most once


async def test_without_redis_a_postgres_advisory_lock_elects_and_fails_over():
    """No REDIS_URL: the workers elect their leader by a PostgreSQL
    advisory lock. One subscribes; kill -9 it and the other leads and
    subscribes within the bound, and RingCentral sees one subscription."""
    with database() as db:
        simulator_port = free_port()
        simulator = f"http://127.0.0.1:{simulator_port}"
        env = {
            **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
            "DATABASE_URL": db,
            "DJANGO_SECRET_KEY": "failover-test-only",
            "RINGCENTRAL_SERVER_URL": simulator,
            "RINGCENTRAL_CLIENT_ID": LOCAL_CLIENT_ID,
            "RINGCENTRAL_CLIENT_SECRET": LOCAL_CLIENT_SECRET,
            "RINGCENTRAL_JWT": LOCAL_JWT,
        }
        migrate = Process([*MANAGE, "migrate", "--noinput", "-v", "0"], env)
        assert migrate.finish() == 0, "".join(migrate.lines)
        sim_args = ["ringcentral_simulator", "--profile", "none"]
        processes = [Process([*MANAGE, *sim_args, "--port", str(simulator_port)], env)]
        try:
            processes[0].wait_for("listening on")
            leader = Process([*MANAGE, "telephony_worker"], env)
            processes.append(leader)
            assert "postgres" in leader.wait_for(r"leading: .* holds .*")[0]
            leader.wait_for("stream connected")
            standby = Process([*MANAGE, "telephony_worker"], env)
            processes.append(standby)
            standby.wait_for("standing by")
            assert len(await asyncio.to_thread(subscriptions, simulator)) == 1

            killed = await asyncio.to_thread(kill, leader)
            subscribed = await asyncio.to_thread(logged_at, standby, CONNECTED, killed)
            assert subscribed - killed < TAKEOVER_BOUND, subscribed - killed
            assert len(await asyncio.to_thread(subscriptions, simulator)) == 1
        finally:
            for process in reversed(processes):
                process.stop()


async def test_make_run_over_redis_stands_by_then_leads_when_the_worker_dies(
    tmp_path: Path,
) -> None:
    """`manage.py serve` (what `make run` starts) pointed at a cluster's
    Redis and PostgreSQL: its embedded worker stands by while the cluster's
    worker leads, its console shows that worker's floor, and when the
    worker is killed it elects itself and its console goes on, live. A
    cluster of its own: RingCentral allows 5 logins a minute, each
    takeover takes 2, and the module's cluster has used its share."""
    port = free_port()
    with cluster(
        redis_url=SERVE_REDIS, password=PASSWORD, workers=1, directory=tmp_path
    ) as deployment:
        serve = Process([*MANAGE, "serve", "--port", str(port)], deployment.env)
        try:
            await follow_serve_taking_over(deployment, serve, port)
        finally:
            serve.stop()


async def follow_serve_taking_over(
    deployment: Cluster, serve: Process, port: int
) -> None:
    serve.wait_for("standing by")
    url = f"http://127.0.0.1:{port}"
    assert await asyncio.to_thread(answers, f"{url}/login/")
    one = await open_console(url)
    holder = f"{socket.gethostname()}:{serve.popen.pid}"
    assert one.worker["connected"] is True and one.worker["leader"] != holder
    async with httpx.AsyncClient(base_url=deployment.simulator, timeout=WAIT) as sim:
        before = await talking_call(sim)
        await one.until(lambda c: before in c.calls)
        killed = 0.0
        for worker in deployment.workers:
            if worker.popen.poll() is None:
                killed = await asyncio.to_thread(deployment.kill, worker)
        subscribed = await asyncio.to_thread(logged_at, serve, CONNECTED, killed)
        assert subscribed - killed < TAKEOVER_BOUND, subscribed - killed
        async with asyncio.timeout(WAIT):
            await one.until(lambda c: c.worker.get("leader") == holder)
        after = await talking_call(sim)
        async with asyncio.timeout(WAIT):
            await one.until(lambda c: before in c.calls and after in c.calls)
    assert len(await asyncio.to_thread(deployment.subscriptions)) == 1
    await one.close()
