"""The HTTP layer, shutdown, and the generated demo floor."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx
import pytest

from telephony.simulator import Simulator, SimulatorConfig
from tests.support import WAIT
from tests.support.gateway import (
    ACCOUNT_FILTER,
    login,
    next_event,
    open_socket,
    recv,
    subscribe,
    ws_url,
)
from tests.support.openapi import assert_valid


async def raw_exchange(sim: Simulator, payload: bytes, *, until_close: bool) -> bytes:
    """Send raw bytes; read until EOF or until one full response arrived."""
    url = urlsplit(sim.url)
    async with asyncio.timeout(WAIT):
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        writer.write(payload)
        data = await reader.read() if until_close else await reader.readuntil(b"}")
        writer.close()
        await writer.wait_closed()
    return data


async def test_pipelined_keep_alive_requests_are_answered_in_order(
    sim: Simulator,
) -> None:
    request = b"GET /_sim/state HTTP/1.1\r\nHost: x\r\n\r\n"
    closing = b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = await raw_exchange(sim, request + request + closing, until_close=True)
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.index(b"200 OK") < data.index(b"HTTP/1.1 404 Not Found")
    assert b"Connection: close" in data and b"Date: " in data


async def test_malformed_request_line_is_400(sim: Simulator) -> None:
    data = await raw_exchange(sim, b"NONSENSE\r\n\r\n", until_close=True)
    assert data.startswith(b"HTTP/1.1 400 Bad Request")


async def test_stop_leaves_no_task_and_closes_sockets() -> None:
    before = asyncio.all_tasks()
    sim = Simulator(SimulatorConfig(profile="demo", speed=1000.0, seed=3))
    await sim.start()
    async with httpx.AsyncClient(base_url=sim.url, timeout=WAIT) as http:
        ws = await open_socket(await ws_url(http, (await login(http))["access_token"]))
        await recv(ws)
        await sim.stop()
        async with asyncio.timeout(WAIT):
            await ws.wait_closed()
        assert ws.close_code == 1001
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{sim.url}/_sim/state")
    assert asyncio.all_tasks() == before


async def test_demo_profile_generates_calls_by_itself() -> None:
    sim = Simulator(SimulatorConfig(profile="demo", speed=1000.0, seed=11))
    await sim.start()
    try:
        async with httpx.AsyncClient(base_url=sim.url, timeout=WAIT) as http:
            ws = await open_socket(
                await ws_url(http, (await login(http))["access_token"])
            )
            await recv(ws)
            await subscribe(ws, ACCOUNT_FILTER)
            envelope = await next_event(ws)
            await ws.close()
        # Warm-up calls start within milliseconds at this speed, so the
        # first event seen may belong to a call already under way.
        assert_valid("AccountTelephonySessionsEvent", envelope)
        assert envelope["body"]["sequence"] >= 2
    finally:
        await sim.stop()


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        SimulatorConfig(profile="busy")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SimulatorConfig(speed=0)
