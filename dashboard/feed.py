"""The live feed: one channel-layer subscription per process, fanned out to
the process's consoles.

Measured on this machine kind (docs/performance.md 3), idiomatic Channels (one
layer message per console per update, each dispatched through the consumer
machinery) holds 100-200 consoles per process; the transport itself holds
thousands. So the worker's updates reach each process ONCE, through one
member of the supervisors' group; the feed turns each into the browser's
JSON text ONCE and writes it to every local console's socket directly.
Channels stays the way consoles connect, ask for snapshots, send commands
and get their replies: low-rate traffic.

Order is kept (one channel, read by one task); a console that misses
anything still sees the `seq` gap and resyncs from a snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

from dashboard import protocol
from telephony import broadcast

logger = logging.getLogger("dashboard.feed")


class Console(Protocol):
    async def send_frame(self, text: str) -> None: ...


def browser_frame(message: dict[str, Any]) -> str | None:
    """The console's JSON text for one group message (None: not for them)."""
    kind = message.get("type")
    frame: protocol.CallFrame | protocol.WorkerStatusFrame
    if kind in ("telephony.call_updated", "telephony.call_ended"):
        frame = protocol.call_changed(
            ended=kind == "telephony.call_ended",
            epoch=message["epoch"],
            seq=message["seq"],
            call=message["call"],
        )
    elif kind == "telephony.worker_status":
        frame = protocol.worker_status(epoch=message["epoch"], worker=message["status"])
    else:
        logger.warning("live feed: unexpected message type %r", kind)
        return None
    return protocol.dumps(frame)


# Every type the feed turns into browser frames.
FEED_TYPES = (
    "telephony.call_updated",
    "telephony.call_ended",
    "telephony.worker_status",
)


class LocalFeed:
    """The supervisors' group, as seen by one process."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.consoles: set[Console] = set()
        self._channel: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def join(self, console: Console) -> None:
        async with self._lock:
            if self._task is None:
                self._channel = await self.layer.new_channel()
                await self.layer.group_add(broadcast.SUPERVISORS, self._channel)
                self._task = asyncio.create_task(self._run(self._channel))
            self.consoles.add(console)

    async def leave(self, console: Console) -> None:
        async with self._lock:
            self.consoles.discard(console)
            if self.consoles or self._task is None:
                return
            # The last console left: stop reading, leave the group.
            self._task.cancel()
            self._task = None
            await self.layer.group_discard(broadcast.SUPERVISORS, self._channel)

    async def _run(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # e.g. Redis restarting: consoles will resync
                logger.exception("live feed cannot read; retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            frame = browser_frame(message)
            if frame is not None:
                await self._send(frame)

    async def _send(self, frame: str) -> None:
        for console in list(self.consoles):
            try:
                await console.send_frame(frame)
            except Exception:  # a dead socket must not starve the others
                logger.warning("live feed: dropping a console that failed")
                self.consoles.discard(console)


_feeds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LocalFeed] = (
    weakref.WeakKeyDictionary()
)


def feed_for(layer: Any) -> LocalFeed:
    """This process's (event loop's) feed on `layer`."""
    loop = asyncio.get_running_loop()
    feed = _feeds.get(loop)
    if feed is None or feed.layer is not layer:
        feed = _feeds[loop] = LocalFeed(layer)
    return feed
