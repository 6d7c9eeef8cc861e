"""The feeds receive the worker's numbered messages in order, however its
sends overlap: over Redis two `group_send`s in flight at once can arrive
swapped, and a feed takes a swap for a lost change and reloads its floor
(a reload storm under load). The network's timing is the one thing faked
here: a layer whose early sends are slower than later ones."""

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


class SlowFirstLayer(InMemoryChannelLayer):
    """Each group send takes less time than the one before it."""

    def __init__(self) -> None:
        super().__init__(capacity=1000)
        self.delays = [0.05 - 0.005 * n for n in range(10)]

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        delay = self.delays.pop(0) if self.delays else 0.0
        await asyncio.sleep(delay)  # the network's time, not a synchronisation
        await super().group_send(group, message)


async def test_changes_and_beats_arrive_in_their_numbers_order(
    rc_client: RingCentralClient,
) -> None:
    layer = SlowFirstLayer()
    probe = await layer.new_channel()
    await layer.group_add(broadcast.SUPERVISORS, probe)
    worker = TelephonyWorker(client=rc_client, layer=layer)
    changes = [
        Change("updated", 1, call_view(f"s-{n}", sequence=n)) for n in range(1, 6)
    ]
    await asyncio.gather(
        *(worker.publish(change) for change in changes),
        worker._publish_status(),
        *(worker.publish(change) for change in changes[:3]),
    )
    received = []
    async with asyncio.timeout(WAIT):
        while len(received) < 9:
            received.append(await layer.receive(probe))
    numbered = [m["seq"] for m in received if m["type"] != "telephony.worker_status"]
    assert numbered == list(range(1, 9))
    # The beat names the changes sent before it, and comes after them.
    beat = next(i for i, m in enumerate(received) if "status" in m)
    assert received[beat]["seq"] == beat
