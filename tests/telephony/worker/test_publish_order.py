"""The worker's outbox (telephony/worker/outbox.py): the feeds receive its
numbered messages in order however slow each send, a beat never names a
number not yet sent, a burst of changes to one call sends its latest
state once, and handling events never waits for the channel layer. The
network's timing is the one thing faked here: a layer whose early sends
are slower than later ones."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.layers import InMemoryChannelLayer

from telephony import broadcast
from telephony.live.model import Change
from telephony.ringcentral.client import RingCentralClient
from telephony.worker import TelephonyWorker
from tests.support import WAIT
from tests.support.calls import call_view
from tests.support.worker import receive_one


class SlowLayer(InMemoryChannelLayer):
    """Each group send takes less time than the one before it; `gate`,
    while clear, holds every send (a channel layer stalled)."""

    def __init__(self) -> None:
        super().__init__(capacity=1000)
        self.delays = [0.05 - 0.005 * n for n in range(10)]
        self.gate = asyncio.Event()
        self.gate.set()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self.gate.wait()
        delay = self.delays.pop(0) if self.delays else 0.0
        await asyncio.sleep(delay)  # the network's time, not a synchronisation
        await super().group_send(group, message)


async def joined(layer: SlowLayer) -> str:
    probe = await layer.new_channel()
    await layer.group_add(broadcast.SUPERVISORS, probe)
    return probe


def change(n: int, state: str = "talking") -> Change:
    return Change("updated", 1, call_view(f"s-{n}", state=state))


async def test_changes_and_beats_arrive_in_their_numbers_order(
    rc_client: RingCentralClient,
) -> None:
    layer = SlowLayer()
    probe = await joined(layer)
    worker = TelephonyWorker(client=rc_client, layer=layer)
    for n in range(1, 6):
        await worker.publish(change(n))
    beats = [asyncio.create_task(worker._publish_status()) for _ in range(3)]
    for n in range(6, 9):
        await worker.publish(change(n))
    async with asyncio.timeout(WAIT):
        await worker.outbox.drained()
        await asyncio.gather(*beats)
        received = [await receive_one(layer, probe) for _ in range(11)]
    numbered = [m["seq"] for m in received if m["type"] != "telephony.worker_status"]
    assert numbered == list(range(1, 9))
    sent = 0
    for message in received:  # a beat names only numbers already received
        if message["type"] == "telephony.worker_status":
            assert message["seq"] == sent
        else:
            sent = message["seq"]


async def test_a_stalled_layer_holds_one_latest_state_per_call_and_blocks_nothing(
    rc_client: RingCentralClient,
) -> None:
    layer = SlowLayer()
    layer.delays = []
    probe = await joined(layer)
    worker = TelephonyWorker(client=rc_client, layer=layer)
    layer.gate.clear()
    async with asyncio.timeout(WAIT):  # returns at once: nothing awaits Redis
        for state in ("ringing", "talking", "held", "talking"):
            await worker.publish(change(1, state))
        await worker.publish(change(2, "ringing"))
        await worker.publish(change(1, "held"))
    assert len(worker.outbox) <= 2  # one in flight, at most one per call
    layer.gate.set()
    async with asyncio.timeout(WAIT):
        await worker.outbox.drained()
        received = [await receive_one(layer, probe) for _ in range(worker.seq)]
    assert [m["seq"] for m in received] == list(range(1, worker.seq + 1))
    latest = {m["call"]["id"]: m["call"]["state"] for m in received}
    assert latest == {"s-1": "held", "s-2": "ringing"}
    assert worker.seq <= 3
