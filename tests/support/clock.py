"""A simulator on an injected clock, for timeouts, limits and recovery.

Time-dependent behaviour (idle 1800 s, recovery 180 s, rate windows,
active-calls lag) is tested by moving a fake monotonic clock and calling
`Simulator.sweep()`, never by sleeping.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
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

SPEED = 100.0


class FakeClock:
    """Monotonic seconds that only move when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


@dataclass
class Rig:
    """A started simulator, its clock, an HTTP client and a login."""

    sim: Simulator
    clock: FakeClock
    http: httpx.AsyncClient
    tokens: dict[str, Any]

    async def socket(
        self, *, wsc: str | None = None, token: str | None = None
    ) -> ClientConnection:
        """A gateway socket (optionally recovering `wsc`); nothing read yet."""
        url = await ws_url(self.http, token or self.tokens["access_token"])
        return await open_socket(url + (f"&wsc={wsc}" if wsc else ""))

    async def subscribed(self) -> tuple[ClientConnection, dict[str, Any]]:
        """A socket subscribed account-wide; returns it and ConnectionDetails."""
        ws = await self.socket()
        details = await recv(ws)
        await subscribe(ws, ACCOUNT_FILTER)
        return ws, details[0]


@contextlib.asynccontextmanager
async def rig(**overrides: Any) -> AsyncIterator[Rig]:
    """A silent simulator on a fake clock (rate limits off unless given)."""
    fields: dict[str, Any] = {
        "profile": "none",
        "speed": SPEED,
        "seed": 7,
        "rate_limits": None,
    }
    clock = FakeClock()
    sim = Simulator(SimulatorConfig(**{**fields, **overrides}), clock=clock)
    await sim.start(host="127.0.0.1", port=0)
    try:
        async with httpx.AsyncClient(base_url=sim.url, timeout=WAIT) as http:
            yield Rig(sim, clock, http, await login(http))
    finally:
        await sim.stop()
