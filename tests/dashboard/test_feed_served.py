"""The live feed under daphne, as users meet it: `manage.py serve` in a
subprocess, consoles over real sockets. A console that never reads is cut
loose while the others keep receiving; a thousand consoles connecting at
once neither fail nor disturb the worker's RingCentral connection."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import resource
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.support import WAIT
from tests.support.console import Console
from tests.support.served import (
    METRICS_HEADERS,
    ServedApp,
    login_cookie,
    start_served_app,
)

CONSOLES = 1000


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServedApp]:
    # Small buffers and a short stall, so a console that stops reading is
    # noticed after a few frames rather than megabytes.
    app = start_served_app(
        tmp_path_factory.mktemp("feed"),
        extra_env={
            "SWITCHBOARD_FEED_STALL_SECONDS": "2",
            "SWITCHBOARD_FEED_HIGH_WATER": "32768",
            "SWITCHBOARD_FEED_SOCKET_SNDBUF": "16384",
        },
    )
    yield app
    app.stop()


@pytest.fixture(scope="module")
def cookie(served: ServedApp) -> str:
    return login_cookie(served.url, served.username, served.password)


async def metric(served: ServedApp, name: str) -> float:
    async with httpx.AsyncClient(timeout=WAIT) as http:
        text = (await http.get(f"{served.url}/metrics", headers=METRICS_HEADERS)).text
    match = re.search(rf"^{name}(?:_total)? ([0-9.e+]+)$", text, re.M)
    return float(match[1]) if match else 0.0


async def health(served: ServedApp) -> dict:
    async with httpx.AsyncClient(timeout=WAIT) as http:
        return (await http.get(f"{served.url}/healthz")).json()


async def test_the_served_process_freezes_its_heap_as_it_settles(
    served: ServedApp,
) -> None:
    """telephony.gc_policy runs in serve: it freezes again every second,
    so the floor loaded after start-up is kept out of full collections."""
    async with asyncio.timeout(WAIT):
        while True:  # another process's counter: there is no event to await
            if await metric(served, "switchboard_gc_freezes") >= 2:
                break
            await asyncio.sleep(0.2)
    assert await metric(served, "switchboard_gc_frozen_objects") > 0


def deaf_socket(served: ServedApp, cookie: str) -> socket.socket:
    """A console that completes the WebSocket handshake, then never reads."""
    host, port = served.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(WAIT)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /ws/console/ HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {served.url}\r\nCookie: {cookie}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def churn(sim: httpx.AsyncClient, calls: list[str], action: str) -> None:
    """Every call held (or unheld) from the phone: one delta full of calls."""
    await asyncio.gather(
        *(
            sim.post(f"/_sim/calls/{call}/phone", json={"action": action})
            for call in calls
        )
    )


async def test_a_console_that_never_reads_is_cut_loose_while_others_receive(
    served: ServedApp, cookie: str
):
    reader = await (await Console.open(served.url, cookie)).synced()
    deaf = await asyncio.to_thread(deaf_socket, served, cookie)
    async with httpx.AsyncClient(base_url=served.simulator_url, timeout=WAIT) as sim:
        calls = []
        for _ in range(40):
            created = await sim.post(
                "/_sim/calls",
                json={"scenario": "inbound", "ring_seconds": 0, "talk_seconds": None},
            )
            calls.append(created.json()["telephonySessionId"])
        await reader.until(
            lambda c: all(c.calls.get(s, {}).get("state") == "talking" for s in calls)
        )
        async with asyncio.timeout(WAIT * 3):
            held = False
            while await metric(served, "switchboard_feed_consoles_cut_loose") < 1:
                held = not held
                await churn(sim, calls, "hold" if held else "unhold")
                state = "held" if held else "talking"
                await reader.until(
                    lambda c, s=state: all(c.calls[i]["state"] == s for i in calls)
                )
        # The others keep receiving, in order (the client checks numbering).
        await churn(sim, calls[:1], "hangup")
        await reader.until(lambda c: calls[0] not in c.calls)
        for call in calls[1:]:
            await sim.post(f"/_sim/calls/{call}/phone", json={"action": "hangup"})
    # And the deaf one was dropped by the server, not left to grow it.
    deaf.settimeout(WAIT)
    with pytest.raises((ConnectionResetError, AssertionError)):
        while True:
            assert deaf.recv(65536) != b""
    deaf.close()
    await reader.close()


async def test_a_thousand_consoles_at_once_leave_the_worker_connected(
    served: ServedApp, cookie: str
):
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * CONSOLES), hard))
    before = await health(served)
    loads_before = await metric(served, "switchboard_feed_floor_loads")
    async with httpx.AsyncClient(base_url=served.simulator_url, timeout=WAIT) as sim:
        created = await sim.post(
            "/_sim/calls", json={"scenario": "inbound", "talk_seconds": None}
        )
        first = created.json()["telephonySessionId"]
        async with asyncio.timeout(WAIT * 6):
            consoles = await asyncio.gather(
                *(Console.open(served.url, cookie) for _ in range(CONSOLES))
            )
            await asyncio.gather(*(c.synced() for c in consoles))
        assert all(first in c.calls for c in consoles)
        created = await sim.post(
            "/_sim/calls", json={"scenario": "inbound", "talk_seconds": None}
        )
        second = created.json()["telephonySessionId"]
        async with asyncio.timeout(WAIT * 3):
            await asyncio.gather(
                *(c.until(lambda c: second in c.calls) for c in consoles)
            )
        for call in (first, second):
            await sim.post(f"/_sim/calls/{call}/phone", json={"action": "hangup"})
    after = await health(served)
    await asyncio.gather(*(c.close() for c in consoles))
    # The worker's RingCentral socket never dropped, and the stampede cost
    # it nothing: the process already had its floor.
    assert after["reconnects"] == before["reconnects"] == 0
    assert after["seconds_since_connected"] > before["seconds_since_connected"]
    assert await metric(served, "switchboard_feed_floor_loads") == loads_before
