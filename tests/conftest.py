"""Shared fixtures: a real embedded RingCentral on loopback, a fresh
in-memory channel layer per test, and a RingCentral client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from telephony.client import RingCentralClient
from telephony.simulator import Simulator, SimulatorConfig
from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT

# Every await on the network in a test is bounded by this (seconds).
WAIT = 10.0


@pytest.fixture(autouse=True)
def channel_layer(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    }


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """A silent embedded RingCentral: calls only via its /_sim/ API."""
    sim = Simulator(
        SimulatorConfig(
            client_id=LOCAL_CLIENT_ID,
            client_secret=LOCAL_CLIENT_SECRET,
            jwt=LOCAL_JWT,
            profile="none",
            speed=1.0,
            seed=1,
        )
    )
    await sim.start(host="127.0.0.1", port=0)
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
async def rc_client(simulator: Simulator) -> AsyncIterator[RingCentralClient]:
    client = RingCentralClient(
        server_url=simulator.url,
        client_id=LOCAL_CLIENT_ID,
        client_secret=LOCAL_CLIENT_SECRET,
        jwt=LOCAL_JWT,
    )
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def sim_api(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's control API (/_sim/), for scripting the floor."""
    async with httpx.AsyncClient(base_url=simulator.url, timeout=WAIT) as http:
        yield http


async def place_call(sim_api: httpx.AsyncClient, **fields: Any) -> str:
    """Create an inbound call through the control API; return its id."""
    response = await sim_api.post("/_sim/calls", json={"scenario": "inbound", **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["telephonySessionId"])


async def phone(sim_api: httpx.AsyncClient, session_id: str, action: str) -> None:
    """Do what an agent does on the desk phone."""
    response = await sim_api.post(
        f"/_sim/calls/{session_id}/phone", json={"action": action}
    )
    assert response.status_code == 200, response.text
