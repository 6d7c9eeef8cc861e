"""The live feed: the worker's changes, coalesced, to every console of this
process.

Why it is built this way (measured: docs/performance.md): one channel-layer
message per console per update holds 100-200 consoles per process, and even
a bare WebSocket server cannot write 300 updates a second to 1,000 sockets.
So, per dashboard process:

- ONE member of the supervisors' group receives the worker's changes and
  keeps the process's copy of the floor (dashboard.mirror), loaded from ONE
  worker snapshot. Consoles' snapshots come from that copy: a stampede of
  reconnecting consoles costs the worker nothing.
- Changes are coalesced: at most one `delta` frame per window
  (FEED_WINDOW_SECONDS, 0.1 s), with the latest state of each call that
  changed, encoded once for the process and framed once for every socket.
  A feed idle for a window sends at once, so a quiet floor is not delayed.
- Backpressure: a console whose socket holds more than FEED_HIGH_WATER
  unsent bytes gets no more deltas; once it has drained it is sent a fresh
  snapshot; if it stays behind FEED_STALL_SECONDS it is cut loose. A
  snapshot is streamed part by part only as the socket drains, so one slow
  tablet cannot grow the server. Snapshots a console asks for are
  rate-limited (FEED_RESYNC_INTERVAL).

Channels stays the way consoles connect and send commands: low-rate traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings

from dashboard import metrics, protocol
from dashboard.mirror import FloorMirror
from dashboard.sinks import Frame, Sink, sink_for
from telephony import broadcast
from telephony.redact import mask_numbers

logger = logging.getLogger("dashboard.feed")

# A console that has this many frames waiting behind its snapshot is
# resynced afresh instead (it would fall further behind).
MAX_HELD_FRAMES = 50
# Ask the worker again when its snapshot has not come within this long.
SNAPSHOT_RETRY = 5.0
# A snapshot's parts are reused this long (seconds) by every console that
# syncs meanwhile, whatever changed since: each catches up with the deltas
# after it (kept in LiveFeed._recent). On a busy floor a delta goes out
# every window, and rebuilding a 5,000-call snapshot (3.5 MB, three copies)
# for each would make a stampede of 1,000 reconnecting consoles build it
# ~150 times.
SNAPSHOT_REUSE = 1.0

State = Literal["waiting", "syncing", "live", "behind"]
# How often a feed joins the supervisors' group again (after a Redis
# restart the worker's next beat then finds the copy behind: a reload).
GROUP_REJOIN_SECONDS = 5.0
# Every channel-layer type the feed reads (the rest go to the consumer).
# The worker's changes: type -> (the floor's collection, the item's field).
CHANGES = {
    "telephony.call_updated": ("calls", "call"),
    "telephony.call_ended": ("calls", "call"),
    "telephony.agent_updated": ("agents", "agent"),
    "telephony.alert_changed": ("alerts", "item"),
    "telephony.attention_changed": ("attention", "item"),
    "telephony.queue_changed": ("queues", "item"),
}
FEED_TYPES = (
    *CHANGES,
    "telephony.changes",
    "telephony.worker_status",
    "telephony.snapshot_sent",
    "telephony.access_revoked",
    "telephony.access_changed",
    "telephony.wall_changed",
)


@dataclass(eq=False)
class Link:
    """One console as the feed serves it."""

    consumer: Any
    sink: Sink
    state: State = "waiting"
    held: deque[tuple[int, Frame]] = field(default_factory=deque)
    behind_since: float = 0.0
    last_sync: float = -1e9
    sync: asyncio.Task[None] | None = None
    again: asyncio.TimerHandle | None = None


@dataclass
class _Loading:
    """A worker snapshot arriving in parts."""

    epoch: str | None = None
    seq: int = 0
    items: dict[str, list[Any]] = field(default_factory=dict)
    parts: set[int] = field(default_factory=set)


class LiveFeed:
    """The supervisors' group, the floor and the consoles of one process."""

    def __init__(self, layer: Any, *, masked: bool = False) -> None:
        self.layer = layer
        self.masked = masked  # calls with numbers masked (walls: dashboard.wall)
        self.epoch = f"{id(self):x}{time.time_ns() % 10**9:x}"  # this feed
        self.mirror = FloorMirror(masked=masked)
        self.links: dict[Any, Link] = {}
        self.window = float(settings.FEED_WINDOW_SECONDS)
        self.high_water = int(settings.FEED_HIGH_WATER)
        self.stall = float(settings.FEED_STALL_SECONDS)
        self.resync_interval = float(settings.FEED_RESYNC_INTERVAL)
        self.linger = float(settings.FEED_LINGER_SECONDS)
        self.sndbuf = int(settings.FEED_SOCKET_SNDBUF)
        self.frames_sent = 0  # frame writes to sockets (metrics, benchmarks)
        self.cut_loose = 0
        self.reloads = 0  # worker snapshots asked for
        # The highest lease generation seen (telephony.worker.lease): a
        # worker's message of a lower one is from a deposed leader, dropped.
        self.generation = 0
        self.fenced = 0  # messages dropped for that
        self._channel: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._loading: _Loading | None = None
        self._early: list[dict[str, Any]] = []  # changes during a reload
        # (status version, built at (monotonic), n, parts)
        self._snapshot_cache: tuple[int, float, int, list[Frame]] | None = None
        # The latest delta frames, for consoles syncing from a reused snapshot.
        self._recent: deque[tuple[int, Frame]] = deque(maxlen=MAX_HELD_FRAMES)
        self._status_version = 0
        self._stop: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.Future[Any]] = set()

    # --- consoles ----------------------------------------------------------

    async def join(self, consumer: Any) -> None:
        """Serve a console: its snapshot as soon as the floor is known, then
        every delta."""
        async with self._lock:
            if self._stop is not None:
                self._stop.cancel()
                self._stop = None
            if self._channel is None:
                await self._start()
            sink = sink_for(consumer, sndbuf=self.sndbuf)
            link = self.links[consumer] = Link(consumer, sink)
        if self.mirror.ready:
            self._start_sync(link)

    async def leave(self, consumer: Any) -> None:
        link = self.links.pop(consumer, None)
        if link is not None:
            _cancel(link)
        if not self.links and self._channel is not None and self._stop is None:
            loop = asyncio.get_running_loop()
            self._stop = loop.call_later(
                self.linger, lambda: self._spawn(self._stop_if_idle())
            )

    def resync(self, consumer: Any) -> None:
        """A console asked for a new snapshot (it saw a gap): at most one
        per FEED_RESYNC_INTERVAL; more requests meanwhile are one."""
        link = self.links.get(consumer)
        if link is None or link.state in ("waiting", "syncing") or link.again:
            return
        wait = link.last_sync + self.resync_interval - time.monotonic()
        if wait <= 0:
            self._start_sync(link)
            return

        def later() -> None:
            link.again = None
            if self.links.get(consumer) is link and link.state != "syncing":
                self._start_sync(link)

        link.again = asyncio.get_running_loop().call_later(wait, later)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # --- the worker's side -------------------------------------------------

    async def _start(self) -> None:
        self._channel = await self.layer.new_channel()
        await self.layer.group_add(broadcast.SUPERVISORS, self._channel)
        self._tasks = [
            asyncio.create_task(self._receive(self._channel)),
            asyncio.create_task(self._flush_forever()),
            asyncio.create_task(self._stay_in_group(self._channel)),
        ]
        await self._ask_snapshot()

    async def _stay_in_group(self, channel: str) -> None:
        """Join the supervisors' group again now and then: a Redis restarted
        (it keeps nothing on disk) forgets every group, and this process
        would hear nothing more from the worker."""
        while True:
            await asyncio.sleep(GROUP_REJOIN_SECONDS)
            try:
                await self.layer.group_add(broadcast.SUPERVISORS, channel)
            except Exception:  # Redis still away: next round
                logger.warning("live feed could not rejoin its group", exc_info=True)

    async def _stop_if_idle(self) -> None:
        async with self._lock:
            self._stop = None
            if self.links or self._channel is None:
                return
            for task in self._tasks:
                task.cancel()
            channel, self._channel = self._channel, None
            # Numbered from 1 again: forget frames.
            self.mirror = FloorMirror(masked=self.masked)
            self._snapshot_cache = None
            self._recent.clear()
            self._loading = None
            self._early.clear()
            await self.layer.group_discard(broadcast.SUPERVISORS, channel)

    async def _ask_snapshot(self) -> None:
        """(Re)load the floor from one worker snapshot; changes that arrive
        meanwhile are held and applied after it."""
        self._loading = _Loading()
        if self._channel is None:
            return
        self.reloads += 1
        try:
            await broadcast.request_snapshot(self.layer, reply_to=self._channel)
        except Exception:  # retried by the receive loop's timeout
            logger.exception("live feed could not ask the worker for a snapshot")

    def _reload(self) -> None:
        if self._loading is None:
            self._loading = _Loading()  # hold changes from now on
            self._spawn(self._ask_snapshot())

    async def _receive(self, channel: str) -> None:
        while True:
            try:
                async with asyncio.timeout(SNAPSHOT_RETRY if self._loading else None):
                    message = await self.layer.receive(channel)
            except TimeoutError:
                await self._ask_snapshot()  # the worker did not answer
                continue
            except Exception:  # e.g. Redis restarting: reload after it
                logger.exception("live feed cannot read; retrying in 1 s")
                await asyncio.sleep(1.0)
                if self._loading is None:
                    await self._ask_snapshot()
                continue
            try:
                await self._handle(message)
            except Exception:
                logger.exception(
                    "live feed: bad message %.200s", mask_numbers(repr(message))
                )

    async def _handle(self, message: dict[str, Any]) -> None:
        if self._fenced(message):
            return
        kind = message.get("type")
        if kind in CHANGES:
            self._change(message)
        elif kind == "telephony.changes":  # several, in order (broadcast)
            for change in message["changes"]:
                self._change(change)
        elif kind == "telephony.snapshot_sent":
            await self._snapshot_part(message)
        elif kind == "telephony.access_revoked":
            self._revoke(message)
        elif kind == "telephony.access_changed":
            users = set(message["user_ids"])
            for consumer in list(self.links):
                if str(consumer.user_id) in users:
                    self.hold(consumer.recheck())
        elif kind == "telephony.wall_changed":  # a wall token (dashboard.wall)
            for consumer in list(self.links):
                if str(getattr(consumer, "wall_id", None)) == message["wall_id"]:
                    self.hold(consumer.recheck())
        elif kind == "telephony.worker_status":
            self.mirror.worker = message["status"]
            self._status_version += 1
            if self.mirror.ready and message["epoch"] != self.mirror.epoch:
                self._reload()  # a restarted worker
            elif (
                self.mirror.ready
                and self._loading is None
                and message["seq"] > self.mirror.seq
            ):
                # Changes were lost on the way (Redis restarted, a channel
                # full): the beat says how far the worker is; catch up.
                logger.info(
                    "live feed: the worker is at %s, this copy at %s; reloading",
                    message["seq"],
                    self.mirror.seq,
                )
                self._reload()
            await self._broadcast(Frame(protocol.dumps(protocol.worker_status(
                worker=message["status"]))))  # fmt: skip
        else:
            logger.warning("live feed: unexpected message type %r", kind)

    def _fenced(self, message: dict[str, Any]) -> bool:
        """Whether a worker's message comes from a leader older than one
        already heard (then it is dropped: a deposed leader's late publish
        must not roll the floor back). A newer generation is a new leader:
        its new epoch reloads the floor (_change, worker_status)."""
        generation = message.get(broadcast.GENERATION)
        if generation is None:
            return False
        if generation < self.generation:
            self.fenced += 1
            if self.fenced == 1 or self.fenced % 1000 == 0:
                logger.warning(
                    "live feed: dropped %d messages of a deposed worker "
                    "(generation g%s < g%s)",
                    self.fenced,
                    generation,
                    self.generation,
                )
            return True
        if generation > self.generation:
            if self.generation:
                logger.info(
                    "live feed: a new leader (generation g%s after g%s)",
                    generation,
                    self.generation,
                )
            self.generation = generation
        return False

    def _revoke(self, message: dict[str, Any]) -> None:
        """Close this process's consoles of a user or a session whose
        access ended (dashboard.access)."""
        user, session = message.get("user_id"), message.get("session_key")
        for consumer in list(self.links):
            mine = (user is not None and str(consumer.user_id) == user) or (
                session is not None and consumer.session_key == session
            )
            if mine:
                self.hold(consumer.revoke(message["reason"]))

    def hold(self, work: Any) -> None:
        """Run a console's access work as a task, held until done."""
        self._spawn(work)

    def consoles_of(self, user_id: Any) -> int:
        """How many consoles this process serves to one user."""
        return sum(1 for consumer in self.links if consumer.user_id == user_id)

    def _change(self, message: dict[str, Any]) -> None:
        if self._loading is not None:
            self._early.append(message)
            return
        follows = self.mirror.follows(message["epoch"], message["seq"])
        if follows is None:
            return
        if follows is False:
            logger.info(
                "live feed: worker change %s/%s out of order; reloading the floor",
                message["epoch"],
                message["seq"],
            )
            self._early.append(message)
            self._reload()
            return
        collection, field = CHANGES[message["type"]]
        item = message[field]
        gone = message["type"] == "telephony.call_ended" or bool(item.get("cleared"))
        self.mirror.apply(collection, item, seq=message["seq"], gone=gone)
        self._wake.set()

    async def _snapshot_part(self, message: dict[str, Any]) -> None:
        loading = self._loading
        if loading is None:
            return
        if loading.epoch != message["epoch"] or loading.seq != message["seq"]:
            loading.epoch, loading.seq = message["epoch"], message["seq"]
            loading.items, loading.parts = {}, set()
        for kind in protocol.COLLECTIONS:
            loading.items.setdefault(kind, []).extend(message.get(kind, []))
        loading.parts.add(message.get("part", 1))
        if len(loading.parts) < message.get("parts", 1):
            return
        self._loading = None
        first = not self.mirror.ready
        self.mirror.load(
            epoch=message["epoch"],
            seq=message["seq"],
            worker=message["status"],
            **loading.items,
        )
        self._status_version += 1
        early, self._early = self._early, []
        for change in early:
            if change["epoch"] == message["epoch"] and change["seq"] > self.mirror.seq:
                self._change(change)
        logger.info(
            "live feed: floor of %d calls loaded (worker %s at %s)",
            len(self.mirror),
            message["epoch"],
            message["seq"],
        )
        if first:
            for link in self.links.values():
                if link.state == "waiting":
                    self._start_sync(link)
        self._wake.set()

    # --- frames to consoles ------------------------------------------------

    async def _flush_forever(self) -> None:
        last = 0.0
        while True:
            # Wake for changes, and every second to look at slow consoles.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._wake.wait()
            if self._wake.is_set():
                self._wake.clear()
                await asyncio.sleep(max(0.0, last + self.window - time.monotonic()))
                last = time.monotonic()
            try:
                await self._flush()
            except Exception:  # never let one frame stop the feed
                logger.exception("live feed: could not send a frame")

    async def _flush(self) -> None:
        delta = self.mirror.take_delta()
        now = time.monotonic()
        if delta is not None:
            frame = Frame(
                protocol.delta(
                    epoch=self.epoch,
                    n=delta.n,
                    items=delta.texts,
                    ended=delta.ended,
                    cleared=delta.cleared,
                )
            )
            self._recent.append((delta.n, frame))
            for link in list(self.links.values()):
                await self._deliver(link, delta.n, frame, now)
        for link in list(self.links.values()):
            if link.state == "behind":
                self._check_behind(link, now)

    async def _deliver(self, link: Link, n: int, frame: Frame, now: float) -> None:
        if link.state == "live":
            if link.sink.unsent() <= self.high_water:
                await self._write(link, frame)
                return
            link.state, link.behind_since = "behind", now
            logger.warning("live feed: a console fell behind; holding its deltas")
        elif link.state == "syncing":
            link.held.append((n, frame))
            if len(link.held) > MAX_HELD_FRAMES:
                _cancel(link)
                link.state, link.behind_since = "behind", now

    def _check_behind(self, link: Link, now: float) -> None:
        if link.sink.unsent() <= self.high_water // 8:
            self._start_sync(link)  # drained: catch up from a snapshot
        elif now - link.behind_since > self.stall:
            logger.warning(
                "live feed: cutting loose a console %.0f s behind (%d bytes unsent)",
                now - link.behind_since,
                link.sink.unsent(),
            )
            self.cut_loose += 1
            self.links.pop(link.consumer, None)
            _cancel(link)
            link.sink.abort()

    async def _broadcast(self, frame: Frame) -> None:
        for link in list(self.links.values()):
            if link.state == "live":
                await self._write(link, frame)

    async def _write(self, link: Link, frame: Frame) -> None:
        try:
            await link.sink.write(frame)
            self.frames_sent += 1
        except Exception:  # a dead socket must not starve the others
            logger.warning("live feed: dropping a console that failed")
            self.links.pop(link.consumer, None)
            _cancel(link)

    # --- snapshots ---------------------------------------------------------

    def _start_sync(self, link: Link) -> None:
        _cancel(link)
        link.state, link.last_sync = "syncing", time.monotonic()
        link.held.clear()
        link.sync = asyncio.create_task(self._sync(link))

    async def _sync(self, link: Link) -> None:
        """Stream the snapshot as the socket drains, then the deltas after
        it: those sent before this sync began (the snapshot may be reused),
        then those held meanwhile."""
        n, parts = self._snapshot_frames()
        missed = deque((m, frame) for m, frame in self._recent if m > n)
        for part in parts:
            await link.sink.drained()
            if self.links.get(link.consumer) is not link:
                return
            await self._write(link, part)
        last = n
        for frames in (missed, link.held):
            while frames:
                m, frame = frames.popleft()
                if m > last:
                    await self._write(link, frame)
                    last = m
        link.state, link.sync = "live", None

    def _snapshot_frames(self) -> tuple[int, list[Frame]]:
        """The floor's snapshot parts, shared by every console that syncs
        within SNAPSHOT_REUSE seconds of their build (then rebuilt: they
        carry the server's clock), unless the worker's status changed. A
        reused snapshot is followed by the deltas after it, so it is kept
        only while _recent still holds all of them."""
        now = time.monotonic()
        if self._snapshot_cache is not None:
            status, built, n, frames = self._snapshot_cache
            covered = not self._recent or self._recent[0][0] <= n + 1
            if (
                status == self._status_version
                and covered
                and now - built < SNAPSHOT_REUSE
            ):
                return n, frames
        n, items = self.mirror.snapshot()
        texts = protocol.snapshot_parts(
            epoch=self.epoch, n=n, worker=self.mirror.worker, items=items
        )
        frames = [Frame(text) for text in texts]
        self._snapshot_cache = (self._status_version, now, n, frames)
        return n, frames


def _cancel(link: Link) -> None:
    if link.sync is not None and link.sync is not asyncio.current_task():
        link.sync.cancel()
    link.sync = None
    if link.again is not None:
        link.again.cancel()
        link.again = None


_feeds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LiveFeed] = (
    weakref.WeakKeyDictionary()
)
# Walls that mask numbers get a feed of their own (its copy of the floor
# holds the masked wire forms), made when the first one opens.
_masked_feeds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LiveFeed] = (
    weakref.WeakKeyDictionary()
)


metrics.watch(lambda: [*_feeds.values(), *_masked_feeds.values()])


def feed_for(layer: Any, *, masked: bool = False) -> LiveFeed:
    """This process's (event loop's) feed on `layer`; `masked`: the one
    whose calls carry numbers masked (protocol.masked_call_wire)."""
    loop = asyncio.get_running_loop()
    feeds = _masked_feeds if masked else _feeds
    feed = feeds.get(loop)
    if feed is None or feed.layer is not layer:
        feed = feeds[loop] = LiveFeed(layer, masked=masked)
    return feed
