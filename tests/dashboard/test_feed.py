"""The per-process live feed: one group member per process, one JSON
serialisation per update, every local console served in order."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from dashboard import protocol
from dashboard.consumers import SupervisorConsumer
from dashboard.feed import LocalFeed, browser_frame
from telephony import broadcast
from tests.dashboard.test_consumers import create_user
from tests.support import WAIT
from tests.support.calls import call_view
from tests.support.frames import receive_frame

CALL = call_view("s-1")


async def open_console(name: str) -> WebsocketCommunicator:
    user = await database_sync_to_async(create_user)(name, control=False)
    communicator = WebsocketCommunicator(SupervisorConsumer.as_asgi(), "/ws/console/")
    communicator.scope["user"] = user
    assert (await communicator.connect(timeout=WAIT))[0]
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_many_consoles_are_one_group_member_and_all_get_each_update():
    layer = get_channel_layer()
    consoles = [await open_console(f"sup{n}") for n in range(3)]
    assert len(layer.groups[broadcast.SUPERVISORS]) == 1  # not one per console
    await broadcast.publish_call_changed(
        layer, kind="updated", epoch="e", seq=1, call=CALL
    )
    for console in consoles:
        frame = await receive_frame(console)
        assert frame == {
            "type": "call_updated",
            "epoch": "e",
            "seq": 1,
            "call": protocol.call_wire(CALL),
        }
    for console in consoles:
        await console.disconnect()
    assert not layer.groups.get(broadcast.SUPERVISORS)  # the last one left


async def test_a_failing_console_is_dropped_and_the_others_still_served():
    sent: list[str] = []

    class Broken:
        async def send_frame(self, text: str) -> None:
            raise ConnectionError("socket gone")

    class Working:
        async def send_frame(self, text: str) -> None:
            sent.append(text)

    feed = LocalFeed(layer=None)
    broken = Broken()
    feed.consoles.update({broken, Working()})
    await feed._send("frame")
    assert sent == ["frame"]
    assert broken not in feed.consoles


def test_frames_are_compact_json_of_the_browser_protocol():
    text = browser_frame(
        {
            "type": "telephony.worker_status",
            "epoch": "e",
            "seq": 3,
            "status": {"connected": True},
        }
    )
    assert text is not None and " " not in text
    assert json.loads(text) == {
        "type": "worker_status",
        "epoch": "e",
        "worker": {"connected": True},
    }
    assert browser_frame({"type": "telephony.snapshot_sent"}) is None
