"""Hostile browser messages, by property: malformed, unknown, oversized,
deeply nested and wrong-typed messages (tests/support/hostile.py) sent to
`SupervisorConsumer` through channels' WebsocketCommunicator.

For every message: either the console gets one short `error` frame and
nothing reaches the worker, or the message was valid and exactly its
request reaches the worker inbox, with ids that are ids; either way the
socket stays open and serves the next message.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from hypothesis import HealthCheck, example, given, settings

from dashboard.consumers import OVERLOADED
from telephony import broadcast
from tests.dashboard.test_consumers import answer_snapshot, create_user, open_as
from tests.support import WAIT
from tests.support.frames import receive_frame
from tests.support.hostile import HOSTILE, MEGABYTE, browser_message

# What an id may be once it reaches the worker (it travels into RingCentral
# URLs): the whole value, not a prefix of it.
ID = re.compile(r"[A-Za-z0-9_.:=-]{1,128}")
ALERT_ID = re.compile(r"[a-z_]{1,32}:[A-Za-z0-9_.:=-]{1,128}")
PARAM = re.compile(r"[A-Za-z0-9_.:=*#+-]{1,64}")
# An error says what is wrong; it never echoes a megabyte back.
LONGEST_ERROR = 300
ONE_USER = (*HOSTILE.suppress_health_check, HealthCheck.function_scoped_fixture)
PROBE = {"type": "probe"}  # unknown: always answered by an error
PROBE_COMMAND = {
    "type": "command",
    "requestId": "probe-1",
    "action": "hold",
    "sessionId": "s-1",
    "partyId": "p-1-2",
}


def is_id(value: Any, pattern: re.Pattern[str] = ID) -> bool:
    return (
        isinstance(value, str)
        and pattern.fullmatch(value) is not None
        and bool(value.strip("."))
    )


def assert_request_is_sound(request: dict[str, Any], sent: Any) -> None:
    """What reached the worker came from a valid message, unchanged."""
    assert isinstance(sent, dict), sent
    if request["type"] == "telephony.command_requested":
        assert sent["type"] == "command"
        assert is_id(request["request_id"]) and request["request_id"] != "probe-1"
        assert is_id(request["session_id"]) and is_id(request["party_id"])
        assert request["session_id"] == sent["sessionId"]
        assert request["party_id"] == sent["partyId"]
        assert all(PARAM.fullmatch(v) for v in request["params"].values())
    elif request["type"] == "telephony.viewing_reported":
        assert sent["type"] == "viewing"
        assert request["session_id"] is None or is_id(request["session_id"])
        assert request["session_id"] == sent.get("sessionId")
    elif request["type"] == "telephony.alert_ack_requested":
        assert sent["type"] == "ack"
        assert is_id(request["alert_id"], ALERT_ID)
    else:
        raise AssertionError(f"unexpected request {request['type']}")


@pytest.fixture
def supervisor(settings: Any) -> User:
    # No resync of the feed's own within an example: the inbox then holds
    # only what the messages caused.
    settings.FEED_RESYNC_INTERVAL = 3600
    return create_user("sup", control=True)


async def console_of(user: User) -> Any:
    communicator = await open_as(user)
    await answer_snapshot([])
    assert (await receive_frame(communicator))["type"] == "snapshot"
    return communicator


async def next_inbox() -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        return await get_channel_layer().receive(broadcast.WORKER_INBOX)


@pytest.mark.django_db(transaction=True)
# One user for every example (a row read, never changed): the fixture
# may outlive an example.
@settings(HOSTILE, suppress_health_check=[*ONE_USER])
@given(raw=browser_message())
# Found by these properties, fixed in dashboard.consumers and actions:
@example(raw=json.dumps({"type": "x" * MEGABYTE}))  # echoed a megabyte back
@example(raw="")
@example(raw=json.dumps({**PROBE_COMMAND, "requestId": "r", "sessionId": "s-1\n"}))
@example(raw=json.dumps({**PROBE_COMMAND, "requestId": "r", "action": ["hold"]}))
@example(
    raw=json.dumps(
        {
            **PROBE_COMMAND,
            "requestId": "r",
            "action": "transfer",
            "params": {"extensionNumber": "101\n"},
        }
    )
)
async def test_every_browser_message_is_answered_and_the_socket_stays_open(
    supervisor: User, raw: str
) -> None:
    console = await console_of(supervisor)
    try:
        # As the browser sends it (send_to refuses an empty text frame).
        await console.send_input({"type": "websocket.receive", "text": raw})
        await console.send_json_to(PROBE)
        replies = []  # every frame up to the probe's answer
        while (frame := await receive_frame(console)) != protocol_error_of_probe():
            replies.append(frame)
        await console.send_json_to(PROBE_COMMAND)  # still served, and last
        request = await next_inbox()
        if request.get("request_id") == "probe-1":
            # The message reached nobody: the console was told why, briefly
            # (a resync has nothing to say; the feed handles it).
            if not (
                isinstance(sent := loads(raw), dict) and sent.get("type") == "resync"
            ):
                assert [r["type"] for r in replies] == ["error"], replies
                assert 0 < len(replies[0]["message"]) <= LONGEST_ERROR, replies
                # Bad input is never taken for the worker being unreachable.
                assert replies[0]["message"] != OVERLOADED, raw[:200]
        else:
            assert replies == [], replies
            assert_request_is_sound(request, loads(raw))
            assert (await next_inbox())["request_id"] == "probe-1"
    finally:
        await console.disconnect()


def protocol_error_of_probe() -> dict[str, Any]:
    return {
        "type": "error",
        "message": "Unknown message type 'probe'.",
        "requestId": None,
    }


def loads(raw: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None
