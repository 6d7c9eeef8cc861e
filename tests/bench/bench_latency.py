"""Latency from the embedded RingCentral emitting a telephony event to a
console WebSocket receiving the resulting update, beside a floor measured
in the same run: a bare `websockets` relay of the same notifications.

Both paths see the same events; latency = receive time - the event's
`eventTime` (set by the simulator when it emits; a console reads it as
each call's `updated` in a `delta` frame). The live feed coalesces changes
into at most one frame per window (SWITCHBOARD_FEED_WINDOW, 0.1 s), so its
figure includes up to one window's wait; `frame_to_console_ms` (receive
time - the frame's `time`, when the feed built it) shows the rest.
Prints one JSON object.
Run: make bench   (or .venv/bin/pytest -m bench -s tests/bench/bench_latency.py)
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.server import serve

from dashboard import protocol
from telephony.ringcentral.client import RingCentralClient
from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT
from tests.support.served import ServedApp, start_served_app

pytestmark = pytest.mark.bench

CALLS = 150
PACE = 0.02  # seconds between control-API actions: ~50 actions/s


def ms_since(iso: str) -> float:
    return (time.time() - datetime.fromisoformat(iso).timestamp()) * 1000


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 2),
        "p99": round(ordered[int(len(ordered) * 0.99) - 1], 2),
        "max": round(ordered[-1], 2),
    }


async def console_socket(app: ServedApp) -> Any:
    async with httpx.AsyncClient(base_url=app.url) as http:
        page = await http.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token
        await http.post(
            "/login/",
            data={
                "username": app.username,
                "password": app.password,
                "csrfmiddlewaretoken": token[1],
            },
            headers={"Referer": f"{app.url}/login/"},
        )
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    ws_url = app.url.replace("http", "ws") + "/ws/console/"
    return await websockets.connect(
        ws_url, additional_headers={"Cookie": cookie, "Origin": app.url}
    )


async def floor_relay(app: ServedApp, samples: list[float], ready: asyncio.Event):
    """Simulator -> bare websockets relay server -> client."""
    client = RingCentralClient(
        server_url=app.simulator_url,
        client_id=LOCAL_CLIENT_ID,
        client_secret=LOCAL_CLIENT_SECRET,
        jwt=LOCAL_JWT,
    )
    clients: set[Any] = set()
    joined = asyncio.Event()

    async def handler(ws: Any) -> None:
        clients.add(ws)
        joined.set()
        await ws.wait_closed()

    try:
        async with serve(handler, "127.0.0.1", 0, compression=None) as relay:
            port = relay.sockets[0].getsockname()[1]
            async with (
                websockets.connect(await client.ws_url(), compression=None) as up,
                websockets.connect(f"ws://127.0.0.1:{port}", compression=None) as down,
            ):
                await up.recv()  # ConnectionDetails
                await up.send(
                    json.dumps(
                        [
                            {
                                "type": "ClientRequest",
                                "messageId": "m1",
                                "method": "POST",
                                "path": "/restapi/v1.0/subscription",
                            },
                            {
                                "eventFilters": [
                                    "/restapi/v1.0/account/~/telephony/sessions"
                                ],
                                "deliveryMode": {"transportType": "WebSocket"},
                            },
                        ]
                    )
                )
                await up.recv()  # subscription reply
                await joined.wait()
                ready.set()

                async def pump() -> None:
                    async for raw in up:
                        websockets.broadcast(clients, raw)

                pump_task = asyncio.create_task(pump())
                try:
                    async for raw in down:
                        header, *body = json.loads(raw)
                        if header.get("type") == "ServerNotification":
                            samples.append(ms_since(body[0]["body"]["eventTime"]))
                finally:
                    pump_task.cancel()
    finally:
        await client.aclose()


async def console_reader(
    ws: Any,
    samples: list[float],
    frames: list[float],
    ended: set[str],
    all_ended: asyncio.Event,
) -> None:
    """Every delta after the snapshot: each call in it is one sample; the
    calls it ends count towards the end of the run."""
    n: int | None = None
    async for raw in ws:
        received = time.time()
        msg = json.loads(raw)
        protocol.check_frame(msg)
        if msg["type"] == "snapshot" and msg["part"] == msg["parts"]:
            n = msg["n"]
        elif msg["type"] == "delta" and n is not None:
            assert msg["n"] == n + 1, f"frame {n + 1} lost"
            n = msg["n"]
            frames.append(received * 1000 - msg["time"])
            for call in msg["calls"]:
                updated = datetime.fromisoformat(call["updated"]).timestamp()
                samples.append((received - updated) * 1000)
            ended.update(msg["ended"])
            if len(ended) >= CALLS:
                all_ended.set()


async def drive_floor(app: ServedApp) -> list[str]:
    ids = []
    async with httpx.AsyncClient(base_url=app.simulator_url, timeout=10) as sim:
        for _ in range(CALLS):
            created = await sim.post("/_sim/calls", json={"scenario": "inbound"})
            ids.append(created.json()["telephonySessionId"])
            await asyncio.sleep(PACE)
        for action in ("answer", "hangup"):
            for session_id in ids:
                await sim.post(
                    f"/_sim/calls/{session_id}/phone", json={"action": action}
                )
                await asyncio.sleep(PACE)
    return ids


async def test_event_to_console_latency(tmp_path: Path):
    app = start_served_app(tmp_path)
    try:
        console = await console_socket(app)
        floor: list[float] = []
        switchboard: list[float] = []
        frames: list[float] = []
        ended: set[str] = set()
        ready = asyncio.Event()
        floor_task = asyncio.create_task(floor_relay(app, floor, ready))
        all_ended = asyncio.Event()
        reader = asyncio.create_task(
            console_reader(console, switchboard, frames, ended, all_ended)
        )
        async with asyncio.timeout(60):
            await ready.wait()
        ids = await drive_floor(app)
        async with asyncio.timeout(60):
            await all_ended.wait()
        assert set(ids) <= ended
        for task in (floor_task, reader):
            task.cancel()
        await asyncio.gather(floor_task, reader, return_exceptions=True)
        await console.close()
    finally:
        app.stop()
    result = {
        "benchmark": "event_to_console_latency_ms",
        "calls": CALLS,
        "feed_window_ms": 100,
        "switchboard": summary(switchboard),
        "switchboard_frame_to_console_ms": summary(frames),
        "floor_bare_websockets_relay": summary(floor),
    }
    result["ratio_p99"] = round(
        result["switchboard"]["p99"]
        / max(result["floor_bare_websockets_relay"]["p99"], 0.01),
        1,
    )
    result["ratio_p50"] = round(
        result["switchboard"]["p50"]
        / max(result["floor_bare_websockets_relay"]["p50"], 0.01),
        1,
    )
    print(json.dumps(result))
