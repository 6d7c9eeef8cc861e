"""The live feed and the workers' lease generations: a deposed leader's
late messages are dropped, a new leader's new epoch reloads the floor."""

from __future__ import annotations

import time

import pytest
from channels.layers import get_channel_layer

from dashboard.feed import feed_for
from telephony import broadcast
from telephony.worker.leader import Fence, FencedLayer
from tests.dashboard.test_consumers import inbox
from tests.dashboard.test_feed import open_console
from tests.support.calls import call_view
from tests.support.frames import receive_frame

STATUS = {"connected": True, "error": None, "since": None}


def leader(generation: int) -> FencedLayer:
    """The channel layer as the worker leading with `generation` sends."""
    fence = Fence(
        holder=f"host:{generation}",
        generation=generation,
        deadline=time.monotonic() + 60,
    )
    return FencedLayer(get_channel_layer(), fence)


async def answer_snapshot(layer: FencedLayer, *, epoch: str, calls: list) -> None:
    request = await inbox()
    assert request["type"] == "telephony.snapshot_requested"
    await broadcast.send_snapshot(
        layer,
        channel=request["reply_to"],
        epoch=epoch,
        seq=0,
        calls=calls,
        agents=[],
        status={**STATUS, **layer.fence.describe()},
    )


@pytest.mark.django_db(transaction=True)
async def test_a_deposed_leaders_late_changes_are_dropped_after_a_new_one_speaks():
    old, new = leader(5), leader(6)
    console = await open_console("sup")
    await answer_snapshot(old, epoch="e-old", calls=[call_view("s-1")])
    snapshot = await receive_frame(console)
    assert [c["id"] for c in snapshot["calls"]] == ["s-1"]

    # The new leader's first word is a new epoch: the floor reloads from it.
    await broadcast.publish_worker_status(
        new, epoch="e-new", seq=0, status={**STATUS, **new.fence.describe()}
    )
    assert (await receive_frame(console))["worker"]["generation"] == 6
    await answer_snapshot(new, epoch="e-new", calls=[call_view("s-2")])
    delta = await receive_frame(console)
    assert (delta["ended"], [c["id"] for c in delta["calls"]]) == (["s-1"], ["s-2"])

    # The old leader, not yet aware it lost its lease, publishes late: both
    # a change that would bring s-1 back and a status.
    await broadcast.publish_call_changed(
        old, kind="updated", epoch="e-old", seq=1, call=call_view("s-1")
    )
    await broadcast.publish_worker_status(old, epoch="e-old", seq=1, status=STATUS)
    await broadcast.publish_call_changed(
        new, kind="updated", epoch="e-new", seq=1, call=call_view("s-3")
    )
    delta = await receive_frame(console)
    assert [c["id"] for c in delta["calls"]] == ["s-3"]  # nothing of the old
    assert await console.receive_nothing()
    feed = feed_for(get_channel_layer())
    assert (feed.generation, feed.fenced) == (6, 2)
    assert set(feed.mirror.kinds["calls"].items) == {"s-2", "s-3"}
    await console.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_snapshot_from_a_deposed_leader_does_not_load():
    old, new = leader(5), leader(6)
    console = await open_console("sup")
    await broadcast.publish_worker_status(
        new, epoch="e-new", seq=0, status={**STATUS, **new.fence.describe()}
    )
    request = await inbox()
    # The old leader answers first (it had read the request before it was
    # fenced): ignored; the new leader's answer loads.
    await broadcast.send_snapshot(
        old,
        channel=request["reply_to"],
        epoch="e-old",
        seq=3,
        calls=[call_view("s-1")],
        agents=[],
        status=STATUS,
    )
    await broadcast.send_snapshot(
        new,
        channel=request["reply_to"],
        epoch="e-new",
        seq=0,
        calls=[call_view("s-2")],
        agents=[],
        status={**STATUS, **new.fence.describe()},
    )
    snapshot = await receive_frame(console)
    assert snapshot["type"] == "snapshot"
    assert [c["id"] for c in snapshot["calls"]] == ["s-2"]
    assert snapshot["worker"]["leader"] == "host:6"
    await console.disconnect()


async def test_a_fenced_layer_stamps_every_message_and_refuses_once_lost():
    layer = leader(7)
    channel = await get_channel_layer().new_channel()
    await broadcast.reply_error(layer, channel=channel, message="x")
    received = await get_channel_layer().receive(channel)
    assert received[broadcast.GENERATION] == 7
    layer.fence.held = False
    with pytest.raises(Exception, match="lease of generation g7 lost"):
        await broadcast.reply_error(layer, channel=channel, message="y")
    with pytest.raises(Exception, match="lost"):
        await layer.receive(broadcast.WORKER_INBOX)
