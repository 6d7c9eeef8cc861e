"""The per-process live feed: one group member and one worker snapshot per
process, the floor kept here, coalesced numbered deltas, and backpressure."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from dashboard import feed as feed_module, protocol
from dashboard.feed import feed_for
from dashboard.mirror import FloorMirror
from dashboard.sinks import Frame
from telephony import broadcast
from tests.dashboard.test_consumers import (
    answer_snapshot,
    create_user,
    inbox,
    open_as,
)
from tests.support import WAIT, eventually
from tests.support.calls import call_view, party
from tests.support.frames import receive_frame

TALKING = call_view("s-1", agent_party_id="p-1-2")


async def open_console(name: str) -> WebsocketCommunicator:
    user = await database_sync_to_async(create_user)(name, control=False)
    return await open_as(user)


async def publish(seq: int, call: Any, *, ended: bool = False, epoch: str = "e1"):
    await broadcast.publish_call_changed(
        get_channel_layer(),
        kind="ended" if ended else "updated",
        epoch=epoch,
        seq=seq,
        call=call,
    )


async def frames_until(console, done) -> list[dict[str, Any]]:
    """Frames until `done(frames)` holds (each bounded by WAIT)."""
    frames: list[dict[str, Any]] = []
    while not done(frames):
        frames.append(await receive_frame(console))
    return frames


@pytest.mark.django_db(transaction=True)
async def test_many_consoles_share_one_group_member_and_one_worker_snapshot():
    layer = get_channel_layer()
    consoles = [await open_console(f"sup{n}") for n in range(3)]
    assert len(layer.groups[broadcast.SUPERVISORS]) == 1  # not one per console
    await answer_snapshot([TALKING])
    for console in consoles:
        snapshot = await receive_frame(console)
        assert snapshot["calls"] == [protocol.call_wire(TALKING)]
    assert await consoles[0].receive_nothing()  # and nothing asked the worker
    assert layer.channels.get(broadcast.WORKER_INBOX) is None or (
        layer.channels[broadcast.WORKER_INBOX].empty()
    )
    held = call_view("s-1", agent_party_id="p-1-2", state="held")
    await publish(8, held)
    for console in consoles:
        assert (await receive_frame(console))["calls"] == [protocol.call_wire(held)]
    for console in consoles:
        await console.disconnect()
    # The feed leaves the group once its linger (0 in tests) is over.
    await eventually(lambda: not layer.groups.get(broadcast.SUPERVISORS))


@pytest.mark.django_db(transaction=True)
async def test_a_burst_of_changes_arrives_in_few_frames_with_the_latest_states(
    settings,
):
    settings.FEED_WINDOW_SECONDS = 1.0
    console = await open_console("sup")
    await answer_snapshot([TALKING])
    await receive_frame(console)
    for seq in range(8, 58):  # 50 changes of one call, then a new call
        state = "held" if seq % 2 else "talking"
        await publish(seq, call_view("s-1", agent_party_id="p-1-2", state=state))
    await publish(58, call_view("s-2"))
    frames = await frames_until(
        console, lambda fs: any("s-2" in str(f["calls"]) for f in fs)
    )
    assert len(frames) <= 2
    latest = {c["id"]: c for f in frames for c in f["calls"]}
    assert latest["s-1"]["state"] == "held"  # seq 57: odd
    assert [f["n"] for f in frames] == list(range(1, len(frames) + 1))
    await console.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_gap_in_the_workers_changes_reloads_the_floor_for_every_console():
    console = await open_console("sup")
    await answer_snapshot([TALKING])
    await receive_frame(console)
    await publish(9, call_view("s-2"))  # 8 was lost on the way
    # The feed, not the console, asks the worker again.
    await answer_snapshot([call_view("s-2"), call_view("s-3")], seq=9)
    frames = await frames_until(
        console, lambda fs: {"s-2", "s-3"} <= {c["id"] for f in fs for c in f["calls"]}
    )
    assert all(f["type"] == "delta" for f in frames)
    assert "s-1" in {i for f in frames for i in f["ended"]}
    await console.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_restarted_worker_is_followed_without_consoles_resyncing():
    console = await open_console("sup")
    await answer_snapshot([TALKING])
    await receive_frame(console)
    await broadcast.publish_worker_status(
        get_channel_layer(),
        epoch="e2",
        seq=0,
        status={"connected": True, "error": None, "since": None},
    )
    assert (await receive_frame(console))["type"] == "worker_status"
    request_msg = await inbox()
    await broadcast.send_snapshot(
        get_channel_layer(),
        channel=request_msg["reply_to"],
        epoch="e2",
        seq=0,
        calls=[],
        agents=[],
        status={"connected": True, "error": None, "since": None},
    )
    delta = await receive_frame(console)
    assert (delta["type"], delta["ended"]) == ("delta", ["s-1"])
    await publish(1, call_view("s-4"), epoch="e2")
    assert [c["id"] for c in (await receive_frame(console))["calls"]] == ["s-4"]
    await console.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_consoles_snapshot_requests_are_rate_limited(settings):
    settings.FEED_RESYNC_INTERVAL = 0.3
    console = await open_console("sup")
    await answer_snapshot([TALKING])
    await receive_frame(console)
    for _ in range(200):
        await console.send_json_to({"type": "resync"})
    snapshot = await receive_frame(console)  # one, after the interval
    assert snapshot["type"] == "snapshot"
    assert await console.receive_nothing(timeout=0.5)
    await console.disconnect()


def test_a_floor_of_5000_calls_is_sent_in_parts_under_256_kb():
    mirror = FloorMirror()
    calls = [
        call_view(
            f"s-{i:032x}",
            agent_party_id=f"p-{i:032x}-2",
            customer_party_id=f"p-{i:032x}-1",
            parties=[
                party(f"p-{i:032x}-1", direction="Outbound"),
                party(f"p-{i:032x}-2", extension_id=str(1000001000 + i % 10000)),
            ],
        )
        for i in range(5000)
    ]
    agents = [
        {
            "extension_id": str(1000001000 + i),
            "availability": "available",
            "since": "2026-01-15T10:00:00.000Z",
            "user_status": "Available",
            "dnd_status": "TakeAllCalls",
            "presence_status": "Available",
            "telephony_status": "NoCall",
        }
        for i in range(10_000)
    ]
    mirror.load(
        epoch="e", seq=1, calls=calls, agents=agents, worker={"connected": True}
    )
    n, items = mirror.snapshot()
    parts = protocol.snapshot_parts(epoch="f", n=n, worker={}, items=items)
    assert all(len(p.encode()) <= 256 * 1024 for p in parts)
    decoded = [protocol.json.loads(p) for p in parts]
    for frame in decoded:
        protocol.check_frame(frame)
    assert sum(len(f["calls"]) for f in decoded) == 5000
    assert sum(len(f["agents"]) for f in decoded) == 10_000
    assert [f["part"] for f in decoded] == list(range(1, len(parts) + 1))


class FakeSink:
    """A socket whose unsent bytes the test sets."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.backlog = 0
        self.wrote = asyncio.Event()
        self.aborted = asyncio.Event()

    def unsent(self) -> int:
        return self.backlog

    async def write(self, frame: Frame) -> None:
        self.frames.append(frame.text)
        self.wrote.set()

    async def drained(self) -> None:
        return None

    def abort(self) -> None:
        self.aborted.set()


@pytest.mark.django_db(transaction=True)
async def test_a_console_that_stops_reading_is_cut_loose_and_the_rest_served(
    settings, monkeypatch
):
    settings.FEED_STALL_SECONDS = 0.2
    settings.FEED_WINDOW_SECONDS = 0.01
    sinks: dict[Any, FakeSink] = {}
    monkeypatch.setattr(
        feed_module, "sink_for", lambda c, **_: sinks.setdefault(c, FakeSink())
    )
    feed = feed_for(get_channel_layer())
    slow, fine = object(), object()
    await feed.join(slow)
    await feed.join(fine)
    await answer_snapshot([TALKING])
    async with asyncio.timeout(WAIT):
        await sinks[slow].wrote.wait()  # both have their snapshot
        await sinks[fine].wrote.wait()
    sinks[slow].backlog = 10 * settings.FEED_HIGH_WATER  # it stopped reading
    await publish(8, call_view("s-1", state="held"))
    async with asyncio.timeout(WAIT):
        await sinks[slow].aborted.wait()  # after FEED_STALL_SECONDS behind
    assert slow not in feed.links and feed.cut_loose == 1
    sent_to_slow = len(sinks[slow].frames)
    sinks[fine].wrote.clear()
    await publish(9, call_view("s-9"))
    async with asyncio.timeout(WAIT):
        await sinks[fine].wrote.wait()
    assert '"s-9"' in sinks[fine].frames[-1]
    assert len(sinks[slow].frames) == sent_to_slow  # no more writes to it
    await feed.leave(fine)


def test_a_call_nobody_is_on_any_more_is_sent_once_and_forgotten():
    mirror = FloorMirror()
    mirror.load(epoch="e", seq=1, worker={}, calls=[TALKING])
    mirror.apply(
        "attention",
        {"session_id": "s-1", "viewers": ["kim"], "pending": []},
        seq=2,
    )
    mirror.apply(
        "attention", {"session_id": "s-1", "viewers": [], "pending": []}, seq=3
    )
    delta = mirror.take_delta()
    assert delta is not None
    assert delta.texts["attention"] == ['{"id":"s-1","viewers":[],"pending":[]}']
    assert mirror.snapshot()[1]["attention"] == []
    assert mirror.take_delta() is None
