"""Notifications per second from the simulator to one WebSocket subscriber.

The simulator runs in this process (one event loop, so one core); a lean
subscriber runs in a child process: it counts ServerNotification frames by
their prefix without parsing them. Events come from hold/unhold on ten
answered calls, driven straight on the engine in batches, so HTTP is not
part of the figure. Rate = notifications / (last frame received - first
event produced), both on the system-wide monotonic clock. Prints one JSON
object with the rate, the simulator's CPU time and the client's.
Run: make bench   (or .venv/bin/pytest -m bench -s tests/bench)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx
import pytest

from telephony.simulator import Simulator, SimulatorConfig
from tests.support.gateway import (
    ACCOUNT_FILTER,
    login,
    phone,
    place_call,
    subscription_body,
    ws_url,
)

pytestmark = pytest.mark.bench

# Below the gateway's 50,000-frame outbox bound, so nothing is shed.
NOTIFICATIONS = 40_000
BATCH = 500
REQUIRED_RATE = 2_000.0
BUDGET = 120.0

CLIENT = r"""
import json, sys, time
from websockets.sync.client import connect

url, expected, subscribe = sys.argv[1], int(sys.argv[2]), sys.argv[3]
prefix = '[{"type":"ServerNotification"'
with connect(url, max_size=None, compression=None) as ws:
    ws.recv()  # ConnectionDetails
    ws.send(subscribe)
    ws.recv()  # the subscription's response
    print("ready", flush=True)
    count, cpu = 0, time.process_time()
    while count < expected:
        if ws.recv().startswith(prefix):
            count += 1
    last = time.monotonic()
    cpu = time.process_time() - cpu
print(json.dumps({"count": count, "last": last, "cpu": cpu}), flush=True)
"""


async def answered_agent_legs(http: httpx.AsyncClient) -> list[tuple[str, str]]:
    """Ten answered calls; (session id, agent party id) of each."""
    legs = []
    for i in range(10):
        agent = str(101 + i)
        session_id = await place_call(http, agent=agent, auto_answer=False)
        answered = await phone(http, session_id, "answer")
        legs.append((session_id, answered.json()["party"]["id"]))
    return legs


async def produce(sim: Simulator, legs: list[tuple[str, str]]) -> None:
    """Emit NOTIFICATIONS events: hold/unhold toggles, in batches."""
    engine, held, made = sim.engine, False, 0
    while made < NOTIFICATIONS:
        for session_id, party_id in legs:
            if held:
                engine.unhold(session_id, party_id)
            else:
                engine.hold(session_id, party_id)
            made += 1
            if made % BATCH == 0:
                await asyncio.sleep(0)  # let the socket writer run
        held = not held


async def test_simulator_delivers_thousands_of_notifications_per_second() -> None:
    config = SimulatorConfig(profile="none", speed=1.0, seed=5, rate_limits=None)
    sim = Simulator(config)
    await sim.start()
    try:
        async with httpx.AsyncClient(base_url=sim.url, timeout=10) as http:
            url = await ws_url(http, (await login(http))["access_token"])
            legs = await answered_agent_legs(http)
            subscribe = json.dumps(
                [
                    {
                        "type": "ClientRequest",
                        "messageId": "bench",
                        "method": "POST",
                        "path": "/restapi/v1.0/subscription",
                    },
                    subscription_body(ACCOUNT_FILTER),
                ]
            )
            client = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                CLIENT,
                url,
                str(NOTIFICATIONS),
                subscribe,
                stdout=asyncio.subprocess.PIPE,
            )
            assert client.stdout is not None
            async with asyncio.timeout(BUDGET):
                assert (await client.stdout.readline()).strip() == b"ready"
                started, cpu = time.monotonic(), time.process_time()
                await produce(sim, legs)
                result = json.loads(await client.stdout.readline())
                sim_cpu = time.process_time() - cpu
                await client.wait()
    finally:
        await sim.stop()
    seconds = result["last"] - started
    rate = result["count"] / seconds
    print(
        json.dumps(
            {
                "bench": "simulator_throughput",
                "notifications": result["count"],
                "seconds": round(seconds, 3),
                "notifications_per_s": round(rate),
                "simulator_cpu_s": round(sim_cpu, 3),
                "client_cpu_s": round(result["cpu"], 3),
            }
        )
    )
    assert rate >= REQUIRED_RATE
