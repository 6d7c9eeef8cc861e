"""Fixtures: a silent simulator on an ephemeral loopback port, an HTTP
client for it, a logged-in token, and a subscribed gateway socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from telephony.simulator import Simulator, SimulatorConfig
from tests.support import WAIT
from tests.support.gateway import (
    ACCOUNT_FILTER,
    login,
    open_socket,
    recv,
    subscribe,
    ws_url,
)

# Durations in control-API calls are simulated seconds; at this speed one
# simulated second lasts 10 ms, so explicit timings finish fast.
SPEED = 100.0


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A silent simulator: calls only through /_sim/calls."""
    # Rate limits are counted, not enforced: tests log in freely
    # (test_rate_limits.py enforces small ones).
    simulator = Simulator(
        SimulatorConfig(profile="none", speed=SPEED, seed=7, rate_limits=None)
    )
    await simulator.start(host="127.0.0.1", port=0)
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP client with the simulator as base URL."""
    async with httpx.AsyncClient(base_url=sim.url, timeout=WAIT) as client:
        yield client


@pytest.fixture
async def tokens(http: httpx.AsyncClient) -> dict[str, Any]:
    """TokenInfo of a fresh JWT login."""
    return await login(http)


@pytest.fixture
async def socket(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> AsyncIterator[ClientConnection]:
    """Gateway socket past ConnectionDetails, subscribed account-wide."""
    ws = await open_socket(await ws_url(http, tokens["access_token"]))
    try:
        header, _ = await recv(ws)
        assert header["type"] == "ConnectionDetails"
        await subscribe(ws, ACCOUNT_FILTER)
        yield ws
    finally:
        await ws.close()
