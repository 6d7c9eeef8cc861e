"""Injected faults (`/_sim/faults`): events, sockets, HTTP, tokens."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from tests.support import WAIT
from tests.support.clock import rig
from tests.support.gateway import bearer, next_event, place_call, recv, ws_url
from tests.support.openapi import assert_valid

SESSION = "/restapi/v1.0/account/~/telephony/sessions/s-unknown"


async def fault(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await http.post("/_sim/faults", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def frames_until_echo(ws: ClientConnection) -> list[list[Any]]:
    """Every frame queued so far: a Heartbeat's echo comes after them."""
    await ws.send(json.dumps([{"type": "Heartbeat", "messageId": "fence"}]))
    seen = []
    while (frame := await recv(ws))[0]["type"] != "Heartbeat":
        seen.append(frame)
    return seen


def sequences(frames: list[list[Any]]) -> list[int]:
    return [frame[1]["body"]["sequence"] for frame in frames]


async def test_dropped_events_are_lost_in_delivery_only() -> None:
    async with rig() as r:
        ws, _ = await r.subscribed()
        await fault(r.http, fault="drop_events", ratio=1)
        session_id = await place_call(r.http, auto_answer=False)
        assert await frames_until_echo(ws) == []
        state = (await r.http.get("/_sim/state")).json()
        assert session_id in [s["id"] for s in state["sessions"]]
        assert (await r.http.delete("/_sim/faults")).json() == {"faults": {}}
        await place_call(r.http, auto_answer=False)
        assert sequences(await frames_until_echo(ws)) == [2, 3, 4, 5]
        await ws.close()


async def test_duplicated_events_repeat_uuid_and_sequence() -> None:
    async with rig() as r:
        ws, _ = await r.subscribed()
        await fault(r.http, fault="duplicate_events", ratio=1)
        await place_call(r.http, auto_answer=False)
        frames = await frames_until_echo(ws)
        await ws.close()
        assert sequences(frames) == [2, 2, 3, 3, 4, 4, 5, 5]
        first, second = frames[0], frames[1]
        assert first[1] == second[1]
        assert second[0]["wsc"]["sequence"] == first[0]["wsc"]["sequence"] + 1


async def test_reordered_events_swap_but_keep_their_sequence() -> None:
    async with rig() as r:
        ws, _ = await r.subscribed()
        await fault(r.http, fault="reorder_events", ratio=1)
        await place_call(r.http, auto_answer=False)
        got = [(await next_event(ws))["body"]["sequence"] for _ in range(4)]
        await ws.close()
        assert got == [3, 2, 5, 4]


async def test_delayed_events_arrive_after_later_traffic() -> None:
    async with rig() as r:
        ws, _ = await r.subscribed()
        await fault(r.http, fault="delay_events", ms=300)
        await place_call(r.http, auto_answer=False)
        assert await frames_until_echo(ws) == []  # still on their way
        got = [(await next_event(ws))["body"]["sequence"] for _ in range(4)]
        await ws.close()
        assert got == [2, 3, 4, 5]


async def delivered_with_seed(seed: int) -> list[int]:
    async with rig(seed=seed) as r:
        ws, _ = await r.subscribed()
        await fault(r.http, fault="drop_events", ratio=0.5)
        await fault(r.http, fault="duplicate_events", ratio=0.3)
        for _ in range(3):
            await place_call(r.http, auto_answer=False)
        delivered = sequences(await frames_until_echo(ws))
        await ws.close()
        return delivered


async def test_faults_are_deterministic_with_a_seed() -> None:
    first = await delivered_with_seed(21)
    assert first == await delivered_with_seed(21)
    assert 0 < len(first) < 24  # some dropped, some duplicated


async def test_http_status_fault_answers_the_next_requests() -> None:
    async with rig() as r:
        token = r.tokens["access_token"]
        await fault(r.http, fault="http_status", status=503, count=2)
        for _ in range(2):
            response = await r.http.get(SESSION, headers=bearer(token))
            assert response.status_code == 503
            assert response.headers["retry-after"] == "60"
            assert_valid("ApiErrorResponseModel", response.json())
            assert response.json()["errorCode"] == "CMN-201"
        assert (await r.http.get("/_sim/state")).status_code == 200
        assert (await r.http.get(SESSION, headers=bearer(token))).status_code == 404


async def test_http_status_fault_respects_its_path_prefix() -> None:
    async with rig() as r:
        await fault(
            r.http,
            fault="http_status",
            status=500,
            count=5,
            path_prefix="/restapi/oauth/wstoken",
        )
        token = r.tokens["access_token"]
        assert (await r.http.get(SESSION, headers=bearer(token))).status_code == 404
        response = await r.http.post("/restapi/oauth/wstoken", headers=bearer(token))
        assert response.status_code == 500
        assert response.json()["errorCode"] == "CMN-203"
        active = (await r.http.get("/_sim/faults")).json()["faults"]
        assert active["http_status"]["count"] == 4


async def test_http_status_fault_can_refuse_websocket_handshakes() -> None:
    async with rig() as r:
        url = await ws_url(r.http, r.tokens["access_token"])
        await fault(r.http, fault="http_status", status=503, path_prefix="/ws")
        with pytest.raises(InvalidStatus) as refused:
            await r.socket()
        assert refused.value.response.status_code == 503
        assert url  # the earlier token is unaffected by the fault


async def test_slow_http_delays_responses_in_order() -> None:
    async with rig() as r:
        await fault(r.http, fault="slow_http", ms=150, count=1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        token = r.tokens["access_token"]
        slow, fast = await asyncio.gather(
            r.http.get(SESSION, headers=bearer(token)),
            r.http.get(SESSION, headers=bearer(token)),
        )
        assert slow.status_code == fast.status_code == 404
        assert loop.time() - started >= 0.15


async def test_unknown_fault_or_bad_value_is_400() -> None:
    async with rig() as r:
        for body in (
            {"fault": "gremlins"},
            {"fault": "drop_events", "ratio": 2},
            {"fault": "http_status", "status": 200},
            {"fault": "drop_websockets", "recoverable": "yes"},
        ):
            response = await r.http.post("/_sim/faults", json=body)
            assert response.status_code == 400, body
            assert response.json()["errorCode"] == "CMN-101"


async def test_drop_websockets_cuts_sockets_like_a_network_failure() -> None:
    async with rig() as r:
        ws, _ = await r.subscribed()
        result = await fault(r.http, fault="drop_websockets", recoverable=True)
        assert result["dropped"] == 1
        async with asyncio.timeout(WAIT):
            await ws.wait_closed()
        assert ws.close_code == 1006  # no closing handshake
