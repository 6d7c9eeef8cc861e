"""Speaking RingCentral's protocol by hand to the embedded RingCentral:
login, gateway sockets, subscriptions, frames (the simulator's tests).

Every await that could hang is bounded by `asyncio.timeout(WAIT)`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT
from tests.support import WAIT

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCOUNT_FILTER = "/restapi/v1.0/account/~/telephony/sessions"
EXTENSION_FILTER = "/restapi/v1.0/account/~/extension/~/telephony/sessions"
CLIENT_AUTH = (LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET)


async def login(http: httpx.AsyncClient) -> dict[str, Any]:
    """JWT login; returns the TokenInfo body."""
    response = await http.post(
        "/restapi/oauth/token",
        data={"grant_type": JWT_GRANT, "assertion": LOCAL_JWT},
        auth=CLIENT_AUTH,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(token: str) -> dict[str, str]:
    """Authorization header for an access token."""
    return {"Authorization": f"Bearer {token}"}


async def ws_url(http: httpx.AsyncClient, token: str) -> str:
    """A fresh gateway URL with a single-use ws token."""
    response = await http.post("/restapi/oauth/wstoken", headers=bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    return f"{body['uri']}?access_token={body['ws_access_token']}"


async def open_socket(url: str) -> ClientConnection:
    """Connect to the gateway (bounded)."""
    async with asyncio.timeout(WAIT):
        return await connect(url, open_timeout=WAIT, close_timeout=1)


async def recv(ws: ClientConnection) -> list[Any]:
    """Next frame as a parsed JSON array."""
    async with asyncio.timeout(WAIT):
        frame = json.loads(await ws.recv())
    assert isinstance(frame, list)
    return frame


async def request(
    ws: ClientConnection, method: str, path: str, body: Any = None
) -> list[Any]:
    """Send a ClientRequest and return its response frame."""
    message_id = str(uuid.uuid4())
    header = {
        "type": "ClientRequest",
        "messageId": message_id,
        "method": method,
        "path": path,
    }
    await ws.send(json.dumps([header] if body is None else [header, body]))
    frame = await recv(ws)
    assert frame[0]["type"] == "ClientRequest"
    assert frame[0]["messageId"] == message_id
    return frame


def subscription_body(*filters: str) -> dict[str, Any]:
    """Create-subscription body for WebSocket delivery."""
    return {
        "eventFilters": list(filters),
        "deliveryMode": {"transportType": "WebSocket"},
    }


async def subscribe(ws: ClientConnection, *filters: str) -> dict[str, Any]:
    """Create the socket's subscription; returns SubscriptionInfo."""
    frame = await request(
        ws, "POST", "/restapi/v1.0/subscription", subscription_body(*filters)
    )
    assert frame[0]["status"] == 200, frame
    return dict(frame[1])


async def next_event(ws: ClientConnection) -> dict[str, Any]:
    """The next frame, which must be a ServerNotification; its envelope."""
    header, envelope = await recv(ws)
    assert header["type"] == "ServerNotification", header
    assert header["messageId"] == envelope["uuid"]
    return dict(envelope)


def summary(envelope: dict[str, Any]) -> tuple[int, str, str, str]:
    """(sequence, party number, status code, path kind) of one event."""
    party = envelope["body"]["parties"][0]
    kind = "extension" if "/extension/" in envelope["event"] else "account"
    return (
        envelope["body"]["sequence"],
        party["id"].rsplit("-", 1)[1],
        party["status"]["code"],
        kind,
    )


async def place_call(http: httpx.AsyncClient, **fields: Any) -> str:
    """Create a call through the control API; returns its session id."""
    response = await http.post("/_sim/calls", json={"scenario": "inbound", **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["telephonySessionId"])


async def phone(
    http: httpx.AsyncClient, session_id: str, action: str, **fields: Any
) -> httpx.Response:
    """Act on a desk phone through the control API."""
    return await http.post(
        f"/_sim/calls/{session_id}/phone", json={"action": action, **fields}
    )


ACCOUNT_PRESENCE_FILTER = "/restapi/v1.0/account/~/presence"
DETAILED_PRESENCE_FILTER = ACCOUNT_PRESENCE_FILTER + "?detailedTelephonyState=true"


def is_presence(envelope: dict[str, Any]) -> bool:
    """True for a presence notification (its `event` path ends in /presence)."""
    return str(envelope["event"]).partition("?")[0].endswith("/presence")


async def next_presence(ws: ClientConnection) -> dict[str, Any]:
    """The next presence notification's envelope, skipping telephony ones."""
    while not is_presence(envelope := await next_event(ws)):
        pass
    return envelope


def presence_summary(envelope: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """(extensionId, telephonyStatus, presenceStatus, userStatus, dndStatus)."""
    body = envelope["body"]
    return (
        body["extensionId"],
        body["telephonyStatus"],
        body["presenceStatus"],
        body["userStatus"],
        body["dndStatus"],
    )
