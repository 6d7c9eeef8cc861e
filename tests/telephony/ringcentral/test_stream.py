"""The stream against scripted gateways (a real websockets server on
loopback whose behaviour each test chooses per connection)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve

from telephony.ringcentral.stream import Connected, Disconnected, iter_stream
from tests.support import WAIT


def details(wsc: tuple[str, int], **extra: Any) -> str:
    header = {"type": "ConnectionDetails", "status": 200}
    header["wsc"] = {"token": wsc[0], "sequence": wsc[1]}
    return json.dumps([header, {"recoveryTimeout": 180, **extra}])


def subscription_reply(request: str, status: int = 200) -> str:
    message_id = json.loads(request)[0]["messageId"]
    header = {"type": "ClientRequest", "messageId": message_id, "status": status}
    body: dict[str, Any] = {"id": "sub-1", "status": "Active"}
    if status != 200:
        body = {"errorCode": "CMN-201", "message": "Service temporarily unavailable"}
    return json.dumps([header, body])


def no_delay():
    return itertools.repeat(0.0)


async def collect(
    handler: Callable[[ServerConnection, int], Any], count: int
) -> tuple[list[Any], list[str]]:
    """Run iter_stream against `handler` until it yielded `count` items."""
    attempts = itertools.count(1)
    urls: list[str] = []

    async def serve_one(ws: ServerConnection) -> None:
        urls.append(ws.request.path)
        await handler(ws, next(attempts))

    async with serve(serve_one, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]

        async def open_url() -> str:
            return f"ws://127.0.0.1:{port}/ws?access_token=t"

        items: list[Any] = []
        stream = iter_stream(open_url=open_url, reconnect_delays=no_delay, min_delay=0)
        async with asyncio.timeout(WAIT):
            async for item in stream:
                items.append(item)
                if len(items) == count:
                    break
        await stream.aclose()
    return items, urls


async def test_a_temporary_subscription_error_is_retried_not_fatal():
    async def handler(ws: ServerConnection, attempt: int) -> None:
        await ws.send(details(("w1", 1)))
        await ws.send(subscription_reply(await ws.recv(), 503 if attempt == 1 else 200))
        await ws.wait_closed()

    items, _ = await collect(handler, 2)
    assert isinstance(items[0], Disconnected)
    assert isinstance(items[1], Connected)


async def test_after_a_failed_recovery_the_new_sessions_wsc_token_is_used():
    async def handler(ws: ServerConnection, attempt: int) -> None:
        if attempt == 1:
            await ws.send(details(("OLD", 57)))
        elif attempt == 2:  # recovery refused: a new session, numbered anew
            await ws.send(
                details(
                    ("NEW", 1), recoveryState="Failed", recoveryErrorCode="WSG-1003"
                )
            )
        else:
            await ws.send(details(("NEWER", 1), recoveryState="Successful"))
            await ws.wait_closed()
            return
        await ws.send(subscription_reply(await ws.recv()))
        await ws.close(code=1011)

    items, urls = await collect(handler, 5)
    kinds = [type(item).__name__ for item in items]
    assert kinds == [
        "Connected",
        "Disconnected",
        "Connected",
        "Disconnected",
        "Connected",
    ]
    assert [parse_qs(urlsplit(u).query).get("wsc") for u in urls] == [
        None,
        ["OLD"],
        ["NEW"],
    ]
    assert items[2].recovered is False and items[4].recovered is True


async def test_a_malformed_frame_is_skipped_and_the_next_event_arrives(caplog):
    notification = json.dumps(
        [
            {"type": "ServerNotification", "messageId": "u1"},
            {
                "uuid": "u1",
                "event": "/restapi/v1.0/account/1/telephony/sessions",
                "body": {
                    "sequence": 2,
                    "telephonySessionId": "s-1",
                    "eventTime": "2026-01-15T10:00:00.000Z",
                    "parties": [{"id": "p-1", "status": {"code": "Setup"}}],
                },
            },
        ]
    )

    async def handler(ws: ServerConnection, attempt: int) -> None:
        await ws.send(details(("w", 1)))
        await ws.send(subscription_reply(await ws.recv()))
        await ws.send("not json at all")
        # A frame that fails validation, holding a token and a number.
        await ws.send('[{"type": "Bogus", "wsc": {"token": "wsc-SECRET-1"}}, '
                      '{"phone": "+14155550123"}]')  # fmt: skip
        await ws.send(notification)
        await ws.wait_closed()

    items, _ = await collect(handler, 2)
    assert items[1].session.telephony_session_id == "s-1"
    assert any("skipping malformed frame" in r.message for r in caplog.records)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "wsc-SECRET-1" not in logged
    assert "4155550123" not in logged
    assert "not json at all" not in logged


async def test_an_event_with_one_malformed_field_arrives_without_that_field(caplog):
    caller = {
        "id": "p-1",
        "status": {"code": "Setup"},
        "from": {"phoneNumber": {"e164": "+14155550123"}, "name": "WIRELESS CALLER"},
        "to": {"phoneNumber": "+16505550199"},
    }
    notification = json.dumps(
        [
            {"type": "ServerNotification", "messageId": "u1"},
            {
                "uuid": "u1",
                "event": "/restapi/v1.0/account/1/telephony/sessions",
                "body": {
                    "sequence": 1,
                    "telephonySessionId": "s-1",
                    "eventTime": "2026-01-15T10:00:00.000Z",
                    "parties": [caller, {"id": "p-2", "status": {"code": "Setup"}}],
                },
            },
        ]
    )

    async def handler(ws: ServerConnection, attempt: int) -> None:
        await ws.send(details(("w", 1)))
        await ws.send(subscription_reply(await ws.recv()))
        await ws.send(notification)
        await ws.wait_closed()

    items, _ = await collect(handler, 2)
    event = items[1].session
    assert event.telephony_session_id == "s-1"
    assert [p.id for p in event.parties] == ["p-1", "p-2"]
    assert event.parties[0].from_.phone_number is None
    assert event.parties[0].from_.name == "WIRELESS CALLER"
    assert event.parties[0].to.phone_number == "+16505550199"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "body.parties.0.from.phoneNumber" in logged
    assert "skipping malformed frame" not in logged
    assert "4155550123" not in logged
