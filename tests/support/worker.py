"""Run a TelephonyWorker against the embedded RingCentral and compare its
model with the simulator's ground truth (`GET /_sim/state`)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from telephony import broadcast
from telephony.worker import TelephonyWorker
from tests.support import WAIT
from tests.support.sim import phone, place_call

__all__ = ["phone"]  # re-exported: the harness is the tests' one import

LIVE = ("Disconnected", "Gone")


def no_delay():
    return itertools.repeat(0.0)


# Changes that came in one `telephony.changes` message and were not read
# yet, by (layer, channel).
_UNREAD: dict[tuple[int, str], collections.deque[dict[str, Any]]] = {}


async def receive_one(layer: Any, channel: str) -> dict[str, Any]:
    """The next message on `channel`, a batch of changes read one by one
    (the worker sends what has gathered as one `telephony.changes`)."""
    unread = _UNREAD.setdefault((id(layer), channel), collections.deque())
    if not unread:
        message = await layer.receive(channel)
        if message["type"] != "telephony.changes":
            return dict(message)
        unread.extend(message["changes"])
    return unread.popleft()


async def receive_until(
    layer: Any, channel: str, match: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Next message on `channel` that matches; bounded by WAIT."""
    async with asyncio.timeout(WAIT):
        while True:
            message = await receive_one(layer, channel)
            if match(message):
                return message


def is_status(connected: bool) -> Callable[[dict[str, Any]], bool]:
    return lambda m: (
        m["type"] == "telephony.worker_status" and m["status"]["connected"] is connected
    )


def call_update(session_id: str, state: str | None = None):
    def match(message: dict[str, Any]) -> bool:
        return (
            message["type"] == "telephony.call_updated"
            and message["call"]["id"] == session_id
            and (state is None or message["call"]["state"] == state)
        )

    return match


def call_ended(session_id: str):
    return lambda m: (
        m["type"] == "telephony.call_ended" and m["call"]["id"] == session_id
    )


@contextlib.asynccontextmanager
async def running(worker: TelephonyWorker) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def fast_worker(client: Any, layer: Any, **options: Any) -> TelephonyWorker:
    """A worker with test-sized delays (no real waiting between retries)."""
    defaults: dict[str, Any] = {
        "reconnect_delays": no_delay,
        "min_reconnect_delay": 0.0,
        "gap_grace": 0.05,
        "confirm_timeout": 5.0,
        "members_interval": 0.0,
    }
    return TelephonyWorker(client=client, layer=layer, **{**defaults, **options})


def live_parties(parties: list[dict[str, Any]], key: str) -> dict[str, str]:
    return {
        p["id"]: p[key] if key == "status" else p["status"]["code"]
        for p in parties
        if (p["status"] if key == "status" else p["status"]["code"]) not in LIVE
    }


async def ground_truth(sim_api: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    """{session id: {live party id: status code}} per the simulator."""
    state = (await sim_api.get("/_sim/state")).json()
    truth = {s["id"]: live_parties(s["parties"], "code") for s in state["sessions"]}
    return {sid: parties for sid, parties in truth.items() if parties}


def model_view(worker: TelephonyWorker) -> dict[str, dict[str, str]]:
    _, calls = worker.model.snapshot()
    view = {c["id"]: live_parties(c["parties"], "status") for c in calls}
    return {sid: parties for sid, parties in view.items() if parties}


async def place(sim_api: httpx.AsyncClient, **fields: Any) -> str:
    """An inbound call that rings until answered and talks until hung up."""
    return await place_call(sim_api, talk_seconds=None, auto_answer=False, **fields)


async def fault(sim_api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await sim_api.post("/_sim/faults", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def command(
    layer: Any,
    action: str,
    session_id: str,
    party_id: str,
    params: dict[str, Any] | None = None,
    *,
    user: str = "alice",
    user_id: int | None = None,
    request_id: str = "",
) -> tuple[str, dict[str, Any]]:
    """Send a command as a console would; return (reply channel, reply)."""
    reply_channel = await layer.new_channel()
    await broadcast.request_command(
        layer,
        reply_to=reply_channel,
        request_id=request_id or f"{action}-{session_id}",
        action=action,  # type: ignore[arg-type]
        session_id=session_id,
        party_id=party_id,
        user=user,
        user_id=user_id,
        params=params,
    )
    reply = await receive_until(
        layer, reply_channel, lambda m: m["type"] == "telephony.command_replied"
    )
    return reply_channel, reply
