"""Resync of ~2,000 live calls from a cold worker against the embedded
RingCentral's `load-5000` floor (issue 4 target: under 5 s).

A fresh worker (empty model) runs one full resync: the account presence
with detailed telephony state, then `GET /telephony/sessions/{id}` for each
call. Rate limits are off on both sides here: on the real platform the
presence phase is the same single Heavy request, while the per-call detail
GETs trickle at the Light group's budget in the background.
Run: make bench   (or .venv/bin/pytest -m bench -s tests/bench/bench_resync.py)
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from channels.layers import InMemoryChannelLayer

from telephony.ringcentral.client import RingCentralClient
from telephony.ringcentral.ratelimit import RateGate
from telephony.simulator import Simulator, SimulatorConfig
from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT
from telephony.worker import TelephonyWorker

pytestmark = pytest.mark.bench

TARGET_CALLS = 2000


async def test_resync_of_2000_live_calls():
    sim = Simulator(
        SimulatorConfig(
            client_id=LOCAL_CLIENT_ID,
            client_secret=LOCAL_CLIENT_SECRET,
            jwt=LOCAL_JWT,
            profile="load-5000",
            speed=1.0,
            seed=7,
            rate_limits=None,
        )
    )
    floor_ready = asyncio.Event()

    def on_change(*_: object) -> None:
        if len(sim.engine.sessions) >= TARGET_CALLS:
            floor_ready.set()

    await sim.start(host="127.0.0.1", port=0)
    sim.engine.add_listener(on_change)
    client = RingCentralClient(
        server_url=sim.url,
        client_id=LOCAL_CLIENT_ID,
        client_secret=LOCAL_CLIENT_SECRET,
        jwt=LOCAL_JWT,
        rate_gate=RateGate(limits={}),
    )
    try:
        async with asyncio.timeout(120):
            await floor_ready.wait()
        worker = TelephonyWorker(client=client, layer=InMemoryChannelLayer())
        live_before = len(sim.engine.sessions)
        started = time.perf_counter()
        report = await worker.resyncer.run()
        seconds = time.perf_counter() - started
        live_after = len(sim.engine.sessions)
    finally:
        await client.aclose()
        await sim.stop()
    print(
        json.dumps(
            {
                "benchmark": "resync",
                "platform_live_calls_before": live_before,
                "platform_live_calls_after": live_after,
                "model_live_calls": report.live,
                "added": report.added,
                "errors": report.errors,
                "seconds": round(seconds, 2),
                "target_seconds": 5.0,
            }
        )
    )
