"""Session recovery with `wsc` (docs/ringcentral.md 5.9) and dropped sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from tests.support import WAIT
from tests.support.clock import Rig, rig
from tests.support.gateway import (
    CLIENT_AUTH,
    login,
    next_event,
    phone,
    place_call,
    recv,
    summary,
)
from tests.support.openapi import assert_valid


async def drop(
    http: httpx.AsyncClient, ws: ClientConnection, recoverable: bool
) -> None:
    """Cut every socket with the fault and wait until the client sees it."""
    response = await http.post(
        "/_sim/faults", json={"fault": "drop_websockets", "recoverable": recoverable}
    )
    assert response.status_code == 200 and response.json()["dropped"] >= 1
    async with asyncio.timeout(WAIT):
        await ws.wait_closed()


async def recover(r: Rig, wsc: str, **kwargs: Any) -> tuple[ClientConnection, Any]:
    """Reconnect with `wsc`; returns the socket and the ConnectionDetails frame."""
    ws = await r.socket(wsc=wsc, **kwargs)
    header, body = await recv(ws)
    assert header["type"] == "ConnectionDetails", header
    return ws, (header, body)


async def test_recovery_replays_missed_events_in_order() -> None:
    async with rig() as r:
        ws, details = await r.subscribed()
        await drop(r.http, ws, recoverable=True)
        session_id = await place_call(r.http, auto_answer=False)
        fresh, (header, body) = await recover(r, details["wsc"]["token"])
        assert body["recoveryState"] == "Successful"
        assert "recoveryErrorCode" not in body
        assert header["wsc"]["token"] == details["wsc"]["token"]
        assert header["wsc"]["sequence"] > 2  # continues the old context
        replayed = [await next_event(fresh) for _ in range(4)]
        assert [summary(e)[:3] for e in replayed] == [
            (2, "1", "Setup"),
            (3, "2", "Setup"),
            (4, "1", "Answered"),
            (5, "2", "Proceeding"),
        ]
        for envelope in replayed:
            assert_valid("AccountTelephonySessionsEvent", envelope)
        # Live delivery continues on the recovered socket.
        assert (await phone(r.http, session_id, "answer")).status_code == 200
        assert summary(await next_event(fresh))[:3] == (6, "2", "Answered")
        await fresh.close()


async def test_replay_is_bounded_by_recovery_buffer_size() -> None:
    async with rig(recovery_buffer_size=2) as r:
        ws, details = await r.subscribed()
        await drop(r.http, ws, recoverable=True)
        await place_call(r.http, auto_answer=False)
        fresh, (_, body) = await recover(r, details["wsc"]["token"])
        assert body["recoveryState"] == "Successful"
        assert body["recoveryBufferSize"] == 2
        replayed = [summary(await next_event(fresh))[0] for _ in range(2)]
        assert replayed == [4, 5]  # the oldest two were dropped
        await fresh.send(json.dumps([{"type": "Heartbeat", "messageId": "hb"}]))
        assert (await recv(fresh))[0]["type"] == "Heartbeat"  # nothing else queued
        await fresh.close()


async def test_unrecoverable_drop_fails_recovery() -> None:
    async with rig() as r:
        ws, details = await r.subscribed()
        await drop(r.http, ws, recoverable=False)
        await place_call(r.http, auto_answer=False)
        fresh, (header, body) = await recover(r, details["wsc"]["token"])
        assert body["recoveryState"] == "Failed"
        assert body["recoveryErrorCode"] == "WSG-1005"
        assert header["wsc"]["token"] != details["wsc"]["token"]
        await fresh.send(json.dumps([{"type": "Heartbeat", "messageId": "hb"}]))
        assert (await recv(fresh))[0]["type"] == "Heartbeat"  # no replay
        await fresh.close()


async def test_recovery_without_subscription_fails_with_wsg_1005() -> None:
    async with rig() as r:
        ws = await r.socket()
        header, _ = await recv(ws)
        await drop(r.http, ws, recoverable=True)
        fresh, (_, body) = await recover(r, header["wsc"]["token"])
        await fresh.close()
        assert (body["recoveryState"], body["recoveryErrorCode"]) == (
            "Failed",
            "WSG-1005",
        )


async def test_recovery_under_another_oauth_session_fails_with_wsg_1003() -> None:
    async with rig() as r:
        ws, details = await r.subscribed()
        await drop(r.http, ws, recoverable=True)
        other = await login(r.http)
        fresh, (_, body) = await recover(
            r, details["wsc"]["token"], token=other["access_token"]
        )
        await fresh.close()
        assert (body["recoveryState"], body["recoveryErrorCode"]) == (
            "Failed",
            "WSG-1003",
        )


async def test_recovery_with_a_refreshed_token_of_the_same_session_works() -> None:
    async with rig() as r:
        ws, details = await r.subscribed()
        await drop(r.http, ws, recoverable=True)
        refreshed = await r.http.post(
            "/restapi/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": r.tokens["refresh_token"],
            },
            auth=CLIENT_AUTH,
        )
        fresh, (_, body) = await recover(
            r, details["wsc"]["token"], token=refreshed.json()["access_token"]
        )
        await fresh.close()
        assert body["recoveryState"] == "Successful"


async def test_recovery_after_recovery_timeout_fails() -> None:
    async with rig(recovery_timeout=30) as r:
        ws, details = await r.subscribed()
        assert details["wsc"]["sequence"] == 1
        await drop(r.http, ws, recoverable=True)
        r.clock.advance(31)
        r.sim.sweep()
        fresh, (_, body) = await recover(r, details["wsc"]["token"])
        await fresh.close()
        assert body["recoveryTimeout"] == 30
        assert body["recoveryState"] == "Failed"


async def test_malformed_wsc_gets_wsg_400_and_the_socket_closes() -> None:
    async with rig() as r:
        ws = await r.socket(wsc="not-a-real-token")
        header, body = await recv(ws)
        assert header["type"] == "Error"
        assert body == {
            "errorCode": "WSG-400",
            "message": "Malformed WebSocket session context token",
        }
        async with asyncio.timeout(WAIT):
            await ws.wait_closed()
        assert ws.close_code == 1008
