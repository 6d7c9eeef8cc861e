"""The worker's outbox: what it tells the dashboard processes, numbered and
sent in order by one task, so handling RingCentral's events never waits on
the channel layer.

Handling an event used to await its broadcast: over Redis a round trip of
a few milliseconds, far more on a loaded machine, so the worker read at
most a few hundred events a second, and on a busy machine fewer than
RingCentral sent. Its socket then filled, RingCentral's keepalive pong sat
unread behind the events, and the stream dropped (the cluster benchmark,
docs/benchmarks.md).

Now an event updates the model and puts the item's new state here, keyed
by what it is (a call, an agent, an alert...). While a key waits, a newer
state replaces the waiting one in its place: under a burst the feeds get
each item's latest state, never an older one after a newer, and the
outbox holds at most one entry per item on the floor, however long the
channel layer is slow. The history and the journal are fed every change
before it gets here (TelephonyWorker.publish).

Numbers are given when messages are sent, by one task, so the feeds
receive them in order (two sends in flight at once over Redis can arrive
swapped; a feed takes a swap for a lost change and reloads its floor).
What has gathered while a send was under way goes in the next one, up to
CHANGES_PER_MESSAGE changes in one channel-layer message: a round trip
carries many changes when the floor is busy, one when it is quiet. A
beat, which names the last number sent, goes through the same lock.

A snapshot is the model as it is (items still waiting here included) with
the last number sent: the waiting items then arrive with higher numbers
and set the state the snapshot already has.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any

from telephony import broadcast

logger = logging.getLogger("telephony.worker")

Build = Callable[[int], broadcast.NumberedChange]  # the message, given its number
Publish = Callable[[list[broadcast.NumberedChange]], Awaitable[None]]


class Outbox:
    def __init__(
        self,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[Any]],
        publish: Publish,
        *,
        per_message: int = broadcast.CHANGES_PER_MESSAGE,
    ) -> None:
        self.seq = 0  # the last number sent
        self.sending = asyncio.Lock()  # held while numbered messages are sent
        self.per_message = per_message
        self._spawn = spawn
        self._publish = publish
        self._waiting: OrderedDict[Hashable, Build] = OrderedDict()
        self._sender: asyncio.Task[Any] | None = None
        self._empty = asyncio.Event()
        self._empty.set()

    def __len__(self) -> int:
        return len(self._waiting)

    def put(self, key: Hashable, build: Build) -> None:
        """Send `build(seq)` soon; replaces what waits under `key` (in its
        place)."""
        self._waiting[key] = build
        self._empty.clear()
        if self._sender is None or self._sender.done():
            self._sender = self._spawn(self._send_all())

    async def drained(self) -> None:
        """Return once everything put so far has been sent (or failed)."""
        await self._empty.wait()

    async def _send_all(self) -> None:
        while self._waiting:
            count = min(len(self._waiting), self.per_message)
            builds = [self._waiting.popitem(last=False)[1] for _ in range(count)]
            async with self.sending:
                first = self.seq + 1
                changes = [build(first + n) for n, build in enumerate(builds)]
                self.seq += count
                try:
                    await self._publish(changes)
                except Exception:  # e.g. Redis down: the feeds see the gap
                    # "n": a bare run of digits is masked as a phone number
                    logger.exception("could not publish n%d to n%d", first, self.seq)
        self._empty.set()
