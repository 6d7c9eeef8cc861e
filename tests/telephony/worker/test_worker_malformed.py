"""A call with one malformed field still reaches the floor: the embedded
RingCentral's frames pass through a loopback relay that spoils one field
of every event of the call, and the worker shows the call without it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from telephony.ringcentral.client import RingCentralClient
from tests.support import WAIT
from tests.support.worker import (
    call_update,
    fast_worker,
    ground_truth,
    is_status,
    model_view,
    phone,
    place,
    receive_until,
    running,
)

CUSTOMER = "+14155550123"
Spoil = Callable[[list[Any]], None]


@contextlib.asynccontextmanager
async def relay(
    client: RingCentralClient, monkeypatch: pytest.MonkeyPatch, spoil: Spoil
) -> AsyncIterator[None]:
    """Route the client's WebSocket through a loopback relay that passes
    each frame from the gateway on after `spoil(frame)` edited it."""
    real_ws_url = client.ws_url
    upstream: dict[str, str] = {}  # path with the single-use token -> origin

    async def forward(down: ServerConnection) -> None:
        path = down.request.path
        origin = next(o for p, o in upstream.items() if path.startswith(p))
        async with connect(f"{origin}{path}", open_timeout=WAIT) as up:

            async def to_gateway() -> None:
                async for message in down:
                    await up.send(message)

            async def to_worker() -> None:
                async for message in up:
                    frame = json.loads(message)
                    spoil(frame)
                    await down.send(json.dumps(frame))

            tasks = [asyncio.create_task(f()) for f in (to_gateway, to_worker)]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                with contextlib.suppress(ConnectionClosed, asyncio.CancelledError):
                    await asyncio.gather(*tasks)

    async with serve(forward, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]

        async def ws_url() -> str:
            url = urlsplit(await real_ws_url())
            path = f"{url.path}?{url.query}"
            upstream[path] = f"{url.scheme}://{url.netloc}"
            return f"{url.scheme}://127.0.0.1:{port}{path}"

        monkeypatch.setattr(client, "ws_url", ws_url)
        yield


def spoil_callers_number(frame: list[Any]) -> None:
    """The customer's number arrives as an object instead of a string."""
    body = frame[1].get("body") if len(frame) == 2 else None
    for party in (body or {}).get("parties") or []:
        end = party.get("from") or {}
        if end.get("phoneNumber") == CUSTOMER:
            end["phoneNumber"] = {"e164": CUSTOMER}


async def test_a_call_whose_caller_id_is_malformed_is_shown_without_it(
    rc_client, sim_api, probe, monkeypatch, caplog
):
    caplog.set_level(logging.INFO)
    layer, channel = probe
    async with relay(rc_client, monkeypatch, spoil_callers_number):
        worker = fast_worker(rc_client, layer)
        async with running(worker):
            await receive_until(layer, channel, is_status(True))
            await worker.resynced.wait()
            session_id = await place(
                sim_api, customer=CUSTOMER, customerName="WIRELESS CALLER"
            )
            await phone(sim_api, session_id, "answer")
            talking = await receive_until(
                layer, channel, call_update(session_id, "talking")
            )
            # Every party in the state RingCentral has it...
            assert model_view(worker) == await ground_truth(sim_api)
            assert worker.resyncs == 1  # (from events, not re-read over REST)

    # ...and without the spoilt field, but with everything else.
    call = talking["call"]
    assert call["agent_party_id"] and call["customer_party_id"]
    callers = [p for p in call["parties"] if p["from_"]["name"] == "WIRELESS CALLER"]
    assert callers
    assert all(p["from_"]["phone_number"] is None for p in callers)
    assert all(p["to"]["phone_number"] for p in callers)
    messages = [r.getMessage() for r in caplog.records]
    dropped = [m for m in messages if "from.phoneNumber" in m]
    assert dropped and all(session_id in m for m in dropped)
    assert not [m for m in messages if "skipping malformed frame" in m]
    assert not [m for m in messages if "4155550123" in m]
