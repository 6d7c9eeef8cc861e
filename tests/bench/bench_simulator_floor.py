"""A load floor (`load-5000` by default, `SIM_BENCH_PROFILE=load-2000`):
concurrent calls reached, telephony events generated and delivered to one
account-level WebSocket subscriber, events per call, and the process's
memory growth, over about 45 s of wall time (`SIM_BENCH_SECONDS`).

Run: make bench   (or .venv/bin/pytest -m bench -s tests/bench/bench_simulator_floor.py)
Prints one JSON object. Targets: load-5000 reaches 5,000 concurrent calls
(about 1,000 events/s), load-2000 about 2,000 (about 300 events/s), within
300 MB of growth, every event delivered.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import httpx
import pytest

from telephony.simulator import Simulator, SimulatorConfig
from telephony.simulator.engine.model import PartyChange
from tests.support.gateway import (
    ACCOUNT_FILTER,
    login,
    open_socket,
    recv,
    subscribe,
    ws_url,
)

pytestmark = pytest.mark.bench

# SIM_BENCH_SECONDS=120 runs past the warm-up's overshoot to the steady state.
RUN_SECONDS = float(os.environ.get("SIM_BENCH_SECONDS", "45"))
# SIM_BENCH_SPEED=2 doubles the event rate at the same number of calls.
SPEED = float(os.environ.get("SIM_BENCH_SPEED", "1"))
PROFILE = os.environ.get("SIM_BENCH_PROFILE", "load-5000")
# Concurrent calls each load profile must reach (its name says the level).
TARGETS = {"load-5000": 5000, "load-2000": 1800}
SAMPLE_SECONDS = 0.5
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size from /proc/self/statm (pages → bytes)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE_BYTES


async def drain(ws: Any, counts: dict[str, int]) -> None:
    """Count ServerNotification frames until cancelled."""
    while True:
        frame = json.loads(await ws.recv())
        if frame[0].get("type") == "ServerNotification":
            counts["delivered"] += 1


async def test_load_profile_floor() -> None:
    before = rss_bytes()
    sim = Simulator(
        SimulatorConfig(profile=PROFILE, speed=SPEED, seed=1, rate_limits=None)
    )
    generated = {"n": 0, "calls": 0}

    def count(change: PartyChange) -> None:
        generated["n"] += 1
        if change.sequence == 2:  # a call's first event
            generated["calls"] += 1

    sim.engine.add_listener(count)
    counts = {"delivered": 0}
    peak = 0
    await sim.start()
    try:
        async with httpx.AsyncClient(base_url=sim.url, timeout=10) as http:
            token = (await login(http))["access_token"]
            ws = await open_socket(await ws_url(http, token))
            await recv(ws)
            await subscribe(ws, ACCOUNT_FILTER)
            reader = asyncio.create_task(drain(ws, counts))
            started = time.monotonic()
            first = generated["n"], counts["delivered"]
            calls_before = generated["calls"]
            while time.monotonic() - started < RUN_SECONDS:
                await asyncio.sleep(SAMPLE_SECONDS)
                peak = max(peak, len(sim.engine.sessions))
            elapsed = time.monotonic() - started
            reached_at_end = len(sim.engine.sessions)
            made = generated["n"] - first[0]
            got = counts["delivered"] - first[1]
            calls_made = generated["calls"] - calls_before
            grown = rss_bytes() - before
            reader.cancel()
            await ws.close()
    finally:
        await sim.stop()
    result = {
        "bench": "simulator_floor",
        "profile": PROFILE,
        "speed": SPEED,
        "seconds": round(elapsed, 1),
        "peak_concurrent_calls": peak,
        "concurrent_calls_at_end": reached_at_end,
        "events_generated_per_s": round(made / elapsed),
        "events_delivered_per_s": round(got / elapsed),
        "calls_started_per_s": round(calls_made / elapsed, 1),
        "events_per_call": round(made / max(1, calls_made), 1),
        "rss_growth_mb": round(grown / 2**20, 1),
    }
    print(json.dumps(result))
    assert peak >= TARGETS.get(PROFILE, 0)
    assert grown < 300 * 2**20
