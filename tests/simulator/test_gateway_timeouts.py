"""Idle (WSG-902) and absolute (WSG-903) timeouts, on an injected clock."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import ClientConnection

from tests.support import WAIT
from tests.support.clock import rig
from tests.support.gateway import recv

IDLE = 1800.0


async def heartbeat(ws: ClientConnection, message_id: str) -> None:
    await ws.send(json.dumps([{"type": "Heartbeat", "messageId": message_id}]))
    assert (await recv(ws))[0]["messageId"] == message_id


async def expect_closed_with(ws: ClientConnection, code: str) -> None:
    header, body = await recv(ws)
    assert header["type"] == "Error"
    assert body["errorCode"] == code
    async with asyncio.timeout(WAIT):
        await ws.wait_closed()


async def test_idle_socket_gets_wsg_902_and_is_closed() -> None:
    async with rig() as r:
        ws = await r.socket()
        header, body = await recv(ws)
        assert body["idleTimeout"] == 1800
        r.clock.advance(IDLE)
        r.sim.sweep()
        await expect_closed_with(ws, "WSG-902")
        # The context survives an idle close: it can still be recovered.
        fresh = await r.socket(wsc=header["wsc"]["token"])
        assert "recoveryState" in (await recv(fresh))[1]
        await fresh.close()


async def test_websocket_pings_do_not_reset_the_idle_timer() -> None:
    async with rig() as r:
        ws = await r.socket()
        await recv(ws)
        r.clock.advance(IDLE - 1)
        async with asyncio.timeout(WAIT):
            await (await ws.ping())
        r.clock.advance(1)
        r.sim.sweep()
        await expect_closed_with(ws, "WSG-902")


async def test_heartbeats_reset_the_idle_timer() -> None:
    async with rig() as r:
        ws = await r.socket()
        await recv(ws)
        r.clock.advance(IDLE - 1)
        await heartbeat(ws, "keep-alive")
        r.clock.advance(IDLE - 1)
        r.sim.sweep()
        await heartbeat(ws, "still-here")  # no Error frame came first
        await ws.close()


async def test_absolute_timeout_closes_even_a_busy_socket() -> None:
    async with rig(absolute_timeout=600) as r:
        ws = await r.socket()
        _, body = await recv(ws)
        assert body["absoluteTimeout"] == 600
        for step in range(3):
            r.clock.advance(200)
            r.sim.sweep()
            if step < 2:
                await heartbeat(ws, f"hb-{step}")
        await expect_closed_with(ws, "WSG-903")
