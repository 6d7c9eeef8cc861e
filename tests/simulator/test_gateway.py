"""The WebSocket gateway: handshake, frames, subscriptions, heartbeats."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from tests.support.gateway import (
    ACCOUNT_FILTER,
    EXTENSION_FILTER,
    bearer,
    next_event,
    open_socket,
    place_call,
    recv,
    request,
    subscribe,
    subscription_body,
    summary,
    ws_url,
)
from tests.support.openapi import assert_valid


async def test_wstoken_returns_ws_uri_on_same_port(
    sim: Any, http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    response = await http.post(
        "/restapi/oauth/wstoken", headers=bearer(tokens["access_token"])
    )
    assert response.status_code == 200
    body = response.json()
    assert_valid("WsTokenResponse", body)
    assert body["uri"] == sim.url.replace("http://", "ws://") + "/ws"
    assert body["expires_in"] == 600


async def test_wstoken_needs_bearer(http: httpx.AsyncClient) -> None:
    response = await http.post("/restapi/oauth/wstoken")
    assert response.status_code == 401


async def test_ws_token_is_single_use(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    url = await ws_url(http, tokens["access_token"])
    ws = await open_socket(url)
    await ws.close()
    with pytest.raises(InvalidStatus) as refused:
        await open_socket(url)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body)["errorCode"] == "OAU-213"


async def test_unknown_ws_token_is_refused(sim: Any) -> None:
    url = sim.url.replace("http://", "ws://") + "/ws?access_token=forged"
    with pytest.raises(InvalidStatus) as refused:
        await open_socket(url)
    assert refused.value.response.status_code == 401


async def test_connection_details_come_first(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    ws = await open_socket(await ws_url(http, tokens["access_token"]))
    header, body = await recv(ws)
    await ws.close()
    assert header["type"] == "ConnectionDetails"
    assert header["status"] == 200
    assert header["wsc"]["sequence"] == 1 and header["wsc"]["token"]
    assert body["recoveryBufferSize"] == 100
    assert body["recoveryTimeout"] == 180
    assert body["idleTimeout"] == 1800
    assert body["absoluteTimeout"] == 86400
    assert body["maxActiveRequests"] == 10
    assert body["creationTime"].endswith("+0000")
    assert "recoveryState" not in body


@pytest.mark.parametrize(
    "path", ["/restapi/v1.0/subscription", "/restapi/v1.0/subscription/"]
)
async def test_subscription_round_trip(
    http: httpx.AsyncClient, tokens: dict[str, Any], path: str
) -> None:
    ws = await open_socket(await ws_url(http, tokens["access_token"]))
    await recv(ws)
    header, body = await request(
        ws, "POST", path, subscription_body(ACCOUNT_FILTER, EXTENSION_FILTER)
    )
    await ws.close()
    assert header["status"] == 200
    assert header["wsc"]["sequence"] == 2
    assert_valid("SubscriptionInfo", body)
    assert body["eventFilters"] == [
        "/restapi/v1.0/account/1000000001/telephony/sessions",
        "/restapi/v1.0/account/1000000001/extension/1000000101/telephony/sessions",
    ]
    assert body["expiresIn"] == 86399
    assert body["status"] == "Active"
    assert body["deliveryMode"] == {"transportType": "WebSocket", "encryption": False}


async def test_subscription_before_reading_connection_details(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    ws = await open_socket(await ws_url(http, tokens["access_token"]))
    body = subscription_body(ACCOUNT_FILTER)
    header = {
        "type": "ClientRequest",
        "messageId": "early",
        "method": "POST",
        "path": "/restapi/v1.0/subscription",
    }
    await ws.send(json.dumps([header, body]))
    first, second = await recv(ws), await recv(ws)
    await ws.close()
    assert first[0]["type"] == "ConnectionDetails"
    assert second[0]["messageId"] == "early" and second[0]["status"] == 200


@pytest.mark.parametrize(
    "filters",
    [
        ["/restapi/v1.0/account/~/extension/~/favorite/presence"],
        ["/restapi/v1.0/account/~/presence?sipData=true"],
        ["/restapi/v1.0/account/~/presence?detailedTelephonyState=maybe"],
        ["/restapi/v1.0/account/~/extension/42/presence"],
        ["/restapi/v1.0/account/42/telephony/sessions"],
        ["/restapi/v1.0/account/~/telephony/sessions?color=blue"],
        [],
    ],
)
async def test_bad_filters_are_sub_508(
    socket: ClientConnection, filters: list[str]
) -> None:
    header, body = await request(
        socket, "POST", "/restapi/v1.0/subscription", subscription_body(*filters)
    )
    assert header["status"] == 400
    assert_valid("ApiErrorResponseModel", body)
    assert body["errorCode"] == "SUB-508"


async def test_heartbeat_is_echoed(socket: ClientConnection) -> None:
    await socket.send(json.dumps([{"type": "Heartbeat", "messageId": "hb-1"}]))
    assert await recv(socket) == [{"type": "Heartbeat", "messageId": "hb-1"}]


@pytest.mark.parametrize(
    "message", ["not json", "{}", "[]", '[{"messageId": "x"}]', '["x"]']
)
async def test_malformed_frame_gets_error_and_socket_stays_up(
    socket: ClientConnection, message: str
) -> None:
    await socket.send(message)
    header, body = await recv(socket)
    assert header["type"] == "Error" and header["status"] == 400
    assert body["errorCode"].startswith("CMN-")
    await socket.send(json.dumps([{"type": "Heartbeat", "messageId": "after"}]))
    assert (await recv(socket))[0]["messageId"] == "after"


async def test_rest_over_socket_uses_the_socket_session(
    http: httpx.AsyncClient, socket: ClientConnection
) -> None:
    session_id = await place_call(http, auto_answer=False)
    for _ in range(4):
        await next_event(socket)
    path = f"/restapi/v1.0/account/~/telephony/sessions/{session_id}"
    header, body = await request(socket, "GET", path)
    assert header["status"] == 200
    assert_valid("CallSessionObject", body)
    header, body = await request(
        socket, "GET", "/restapi/v1.0/account/~/telephony/sessions/s-x"
    )
    assert header["status"] == 404 and body["errorCode"] == "CMN-102"


async def test_second_subscription_replaces_first(
    http: httpx.AsyncClient, socket: ClientConnection
) -> None:
    first = await subscribe(socket, ACCOUNT_FILTER)
    second = await subscribe(socket, EXTENSION_FILTER)
    assert first["id"] != second["id"]
    header, _ = await request(
        socket, "GET", f"/restapi/v1.0/subscription/{first['id']}"
    )
    assert header["status"] == 404
    deleted = await request(
        socket, "DELETE", f"/restapi/v1.0/subscription/{second['id']}"
    )
    assert deleted[0]["status"] == 204
    assert len(deleted) == 1


async def test_extension_filter_sees_only_owner_parties(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    ws = await open_socket(await ws_url(http, tokens["access_token"]))
    await recv(ws)
    info = await subscribe(ws, EXTENSION_FILTER)
    await place_call(http, agent="102", auto_answer=False)  # not the owner
    await place_call(http, agent="101", auto_answer=False)  # the owner, Alice
    events = [await next_event(ws) for _ in range(2)]
    await ws.close()
    assert [summary(e) for e in events] == [
        (3, "2", "Setup", "extension"),
        (5, "2", "Proceeding", "extension"),
    ]
    assert all(e["subscriptionId"] == info["id"] for e in events)
    assert events[0]["body"]["parties"][0]["extensionId"] == "1000000101"


async def test_subscription_get_put_renew_and_unknown_id(
    socket: ClientConnection,
) -> None:
    created = await subscribe(socket, ACCOUNT_FILTER)
    path = f"/restapi/v1.0/subscription/{created['id']}"
    for method, body in (
        ("GET", None),
        ("PUT", subscription_body(EXTENSION_FILTER)),
        ("POST", None),
    ):
        target = path + "/renew" if method == "POST" else path
        header, info = await request(socket, method, target, body)
        assert header["status"] == 200, (method, info)
        assert_valid("SubscriptionInfo", info)
        assert info["id"] == created["id"]
    assert info["eventFilters"] == [
        "/restapi/v1.0/account/1000000001/extension/1000000101/telephony/sessions"
    ]
    header, error = await request(socket, "GET", "/restapi/v1.0/subscription/other")
    assert header["status"] == 404
    assert_valid("ApiErrorResponseModel", error)
    assert error["parameterName"] == "subscriptionId"
