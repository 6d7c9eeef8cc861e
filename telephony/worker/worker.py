"""The telephony worker: the only holder of the RingCentral session.

stream -> events -> live model -> broadcast; commands in over the channel
layer -> client -> reply. One worker per account; it runs alone
(`manage.py telephony_worker`) or inside `manage.py serve`.

Never stale (docs/ringcentral.md 10): the stream sends Heartbeats, refreshes
tokens, reconnects with a fresh wstoken and recovers the WebSocket session
when it can. Whenever events may have been lost (a start, an unrecovered
reconnect, a sequence gap) the model is resynced from REST; a ghost sweeper
re-checks calls that have been silent for long and are absent from presence.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from telephony import broadcast, metrics
from telephony.history.journal import Journal, last_states as journal_last_states
from telephony.history.writer import HistoryWriter
from telephony.live.agents import AgentBoard
from telephony.live.gaps import SequenceWatch
from telephony.live.model import Change, LiveModel
from telephony.live.views import AgentView, CallView
from telephony.ringcentral.client import RingCentralClient
from telephony.ringcentral.events import Notification, SessionEvent
from telephony.ringcentral.exceptions import (
    AuthenticationFailed,
    TelephonyError,
    TelephonyRejected,
    describe_refusal,
)
from telephony.ringcentral.queues import MEMBERS_INTERVAL
from telephony.ringcentral.stream import (
    ACCOUNT_PRESENCE_FILTER,
    ACCOUNT_SESSIONS_FILTER,
    Connected,
    Disconnected,
    backoff,
    iter_stream,
)
from telephony.worker import upkeep
from telephony.worker.commands import CONFIRM_TIMEOUT, CommandDesk
from telephony.worker.inbox import Inbox, Snapshot
from telephony.worker.leader import Fence
from telephony.worker.outbox import Outbox
from telephony.worker.oversight import Oversight
from telephony.worker.resync import Resyncer
from telephony.worker.tasks import TaskSet

logger = logging.getLogger("telephony.worker")
# Publishes between two turns given to the loop's other tasks.
YIELD_EVERY = 50

# How long the first resync waits for the call journal's stored clocks.
RESTORE_TIMEOUT = 2.0
# A sequence gap may just be reordering: wait this long for the missing
# event before re-reading the session.
GAP_GRACE = 2.0
# How often the ghost sweeper compares the floor with RingCentral's presence
# (one Heavy-group request per 1,000 extensions; the rate gate spaces them
# further on a large account): a call whose final event was lost leaves
# every console within about one interval.
SWEEP_INTERVAL = 30.0
# A WebSocket session recovered after a longer outage than this is resynced
# anyway: the platform's replay buffer may have overflowed.
RECOVERY_TRUST = 5.0
# How often the worker tells every console it is alive (with its link's
# state and the newest event's time): a page calls the floor stale after
# three beats without one.
BEAT_INTERVAL = 5.0
# Ended calls whose end time the worker remembers (the sweeper's doubt).
ENDED_KEPT = 20_000
# A resync RingCentral rate-limited without saying for how long waits this.
DEFAULT_RETRY_AFTER = 60.0
# The event rate is averaged over about this many seconds.
RATE_WINDOW = 10.0
# A call that changed more recently than this is not re-read by the sweeper
# (presence lags events a little; the next sweep looks again).
GHOST_AFTER = 10.0


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TelephonyWorker:
    """Follow the account's telephony sessions and serve the consoles."""

    def __init__(
        self,
        *,
        client: RingCentralClient,
        layer: Any,
        model: LiveModel | None = None,
        reconnect_delays: Callable[[], Iterator[float]] = backoff,
        min_reconnect_delay: float = 1.0,
        gap_grace: float = GAP_GRACE,
        sweep_interval: float = SWEEP_INTERVAL,
        ghost_after: float = GHOST_AFTER,
        supervisor_device_id: str | None = None,
        confirm_timeout: float = CONFIRM_TIMEOUT,
        history: HistoryWriter | None = None,
        journal: Journal | None = None,
        beat_interval: float = BEAT_INTERVAL,
        members_interval: float = MEMBERS_INTERVAL,
        fence: Fence | None = None,
    ) -> None:
        self.client = client
        self.layer = layer
        # This run's term of leadership (telephony.worker.leader); None: the
        # worker leads unconditionally (tests, `serve` without Redis).
        self.fence = fence
        self.model = model or LiveModel()
        self.agents = AgentBoard()
        if supervisor_device_id:
            self.model.known.monitor_devices = frozenset({supervisor_device_id})
        self.reconnect_delays = reconnect_delays
        self.min_reconnect_delay = min_reconnect_delay
        self.gap_grace = gap_grace
        self.sweep_interval = sweep_interval
        self.ghost_after = ghost_after
        self.history = history or HistoryWriter()
        # Every published change, for timelines and replay (written behind).
        self.journal = journal or Journal(live=lambda: self._views.keys())
        self._restored = False  # the first resync took back stored times
        self.beat_interval = beat_interval
        self.members_interval = members_interval  # between member-list requests
        self.resyncer = Resyncer(
            client=client,
            model=self.model,
            publish=self.publish,
            presence=self._load_presence,
            incomplete=lambda s: self._sequences.has_holes(s),
            read=lambda s: self._sequences.clear_holes(s),
        )
        # Identifies this run's delta numbering (see broadcast); a leader's
        # names its generation, for the logs.
        self.epoch = uuid.uuid4().hex[:12]
        if fence is not None:
            self.epoch = f"g{fence.generation}-{self.epoch[:8]}"
        self.tasks = TaskSet()
        # The latest view of every live call, for the alerts each second.
        self._views: dict[str, CallView] = {}
        self.oversight = Oversight(
            publish=self._publish_oversight,
            calls=self._views.values,
            agents=self.agents.in_dnd,
        )
        self.commands = CommandDesk(
            client=client,
            layer=layer,
            tasks=self.tasks,
            lookup=self.model.get,
            refused=lambda: self.fatal,
            monitor=self._monitor,
            reread=self.resyncer.refresh,
            busy=lambda request, busy: self.tasks.spawn(
                self.oversight.command(request, busy)
            ),
            supervisor_device_id=supervisor_device_id,
            confirm_timeout=confirm_timeout,
        )
        # Set by the first completed resync (or a fatal refusal): a leader
        # taking over answers no snapshot before, so consoles keep the
        # floor they had rather than an empty one (telephony.worker.inbox).
        self.floor_known = asyncio.Event()
        self.inbox = Inbox(
            layer=layer,
            floor_known=self.floor_known if fence is not None else None,
            epoch=self.epoch,
            snapshot=self.snapshot,
            status=lambda: self.status,
            health=self.health,
            desk=self.commands,
            tasks=self.tasks,
            oversight=self.oversight,
        )
        self.connections = 0
        self.resyncs = 0
        self.fatal: TelephonyRejected | None = None
        self.status: dict[str, Any] = {"connected": False, "error": None, "since": None}
        self.leader: dict[str, Any] = fence.describe() if fence else {}
        self.status.update(self.leader)
        self.subscription_id: str | None = None
        self.last_event_at: float | None = None
        self.event_rate = 0.0  # notifications per second, recent
        self.connected_at: float | None = None
        self.resynced = asyncio.Event()  # set after each completed resync
        # Set after each directory refresh (extension list, queue members).
        self.directory_refreshed = asyncio.Event()
        self._touched: dict[str, float] = {}  # session -> last change (monotonic)
        self._ended_at: OrderedDict[str, float] = OrderedDict()
        self._sequences = SequenceWatch()
        # What the dashboard processes are told, numbered within `epoch` (so
        # each sees when it missed one) and sent in order by one task.
        self._unyielded = 0  # publishes since the loop last ran others
        self.outbox = Outbox(
            self.tasks.spawn,
            lambda changes: broadcast.publish_changes(self.layer, changes),
        )
        self._resync_task: asyncio.Task[None] | None = None
        self._gap_checks: set[asyncio.Task[None]] = set()
        self._directory_task: asyncio.Task[None] | None = None
        self._resync_again = False
        self._quiet_for = 0.0
        self._lost_at: float | None = None
        metrics.watch(self)

    async def run(self) -> None:
        """Serve the inbox, follow the stream and sweep until cancelled.

        A fatal error (bad credentials) stops the stream but not the inbox,
        so consoles keep getting a snapshot that says what is wrong.
        """
        self.model.known.queues = await upkeep.known_queues()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.inbox.serve())
                group.create_task(self.follow_stream())
                group.create_task(self._sweep_forever())
                group.create_task(self._beat_forever())
                group.create_task(self.oversight.run())
                group.create_task(self.history.run())
                group.create_task(self.journal.run())
        finally:
            self.tasks.cancel_all()
            metrics.unwatch(self)
            if self.fence is None or self.fence.valid():
                await self.history.flush()
                await self.journal.flush()
            else:  # deposed: the new leader's resync writes the calls' state
                logger.warning("lease lost: unwritten history and journal dropped")

    # --- the stream -------------------------------------------------------

    async def follow_stream(self) -> None:
        try:
            async for item in iter_stream(
                open_url=self.client.ws_url,
                event_filters=[ACCOUNT_SESSIONS_FILTER, ACCOUNT_PRESENCE_FILTER],
                reconnect_delays=self.reconnect_delays,
                min_delay=self.min_reconnect_delay,
            ):
                if isinstance(item, Notification):
                    await self.handle(item)
                elif isinstance(item, Connected):
                    await self._on_connected(item)
                elif isinstance(item, Disconnected):
                    self._lost_at = self._lost_at or time.monotonic()
                    await self._set_status(connected=False, error=None)
        except (AuthenticationFailed, TelephonyRejected) as exc:
            self.fatal = exc
            self.floor_known.set()  # consoles must hear what is wrong
            logger.error(
                "RingCentral refused the worker (%s %s: %s); check RINGCENTRAL_* "
                "settings. Not retrying.",
                exc.status,
                exc.error_code,
                exc.message,
            )
            await self._set_status(connected=False, error=describe_refusal(exc))

    async def handle(self, notification: Notification) -> None:
        """Apply one notification to the model and publish what changed."""
        received = time.perf_counter()
        now = time.monotonic()
        if self.last_event_at is not None:  # events per second, decaying
            decay = math.exp(-(now - self.last_event_at) / RATE_WINDOW)
            self.event_rate = self.event_rate * decay + 1 / RATE_WINDOW
        self.last_event_at = now
        if notification.presence is not None:
            await self.publish_agent(
                self.agents.apply(notification.presence, now=datetime.now(UTC))
            )
            return
        event = notification.session
        if event is None:
            return
        metrics.EVENTS.inc()
        try:
            self._watch_sequence(event)
            change = self.model.apply(event)
        except Exception:  # one bad event must not stop the floor
            logger.exception("could not apply %s", notification.uuid)
            return
        if change is not None:
            await self.publish(change)
            metrics.publish_observed(received)

    async def publish(self, change: Change | None) -> None:
        """Broadcast a model change; the one place changes leave the worker."""
        if change is None:
            return
        await self._checkpoint()
        self.history.record(change)  # O(1); written in batches elsewhere
        self.journal.record(change)  # O(1) too
        session_id = change.call["id"]
        if change.kind == "ended":
            self._forget(session_id)
            self._views.pop(session_id, None)
            self.oversight.call_ended(session_id)
        else:
            self._touched[session_id] = time.monotonic()
            self._views[session_id] = change.call
        self.outbox.put(
            ("call", session_id),
            lambda seq: broadcast.call_changed(
                kind=change.kind, epoch=self.epoch, seq=seq, call=change.call
            ),
        )
        self.commands.confirm(change)

    async def publish_agent(self, agent: AgentView | None) -> None:
        """Broadcast an agent's new presence (None: nothing changed)."""
        if agent is None:
            return
        await self._checkpoint()
        self.outbox.put(
            ("agent", agent["extension_id"]),
            lambda seq: broadcast.agent_changed(epoch=self.epoch, seq=seq, agent=agent),
        )

    async def _load_presence(self, records: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        for record in records:
            await self.publish_agent(self.agents.load_record(record, now=now))

    async def _checkpoint(self) -> None:
        """Let the loop run other tasks every YIELD_EVERY publishes: putting
        into the outbox never waits, so a resync publishing 10,000 agents'
        presence would otherwise hold the loop for seconds on a busy
        machine, and the lease's renewal with it."""
        self._unyielded += 1
        if self._unyielded >= YIELD_EVERY:
            self._unyielded = 0
            await asyncio.sleep(0)

    @property
    def seq(self) -> int:
        """The number of the last change sent to the dashboard processes."""
        return self.outbox.seq

    def snapshot(self) -> Snapshot:
        """The floor as it is, as of `seq`: changes still in the outbox are
        in it already, and arrive after it with higher numbers."""
        alerts, attention, queues = self.oversight.snapshot()
        return Snapshot(
            seq=self.seq,
            calls=self.model.snapshot()[1],
            agents=self.agents.snapshot(),
            alerts=[dict(a) for a in alerts],
            attention=[dict(a) for a in attention],
            queues=[dict(q) for q in queues],
        )

    async def _publish_oversight(self, kind: str, item: dict[str, Any]) -> None:
        self.outbox.put(
            (kind, item[broadcast.OVERSIGHT_KEYS[kind]]),
            lambda seq: broadcast.oversight_changed(
                kind=kind, epoch=self.epoch, seq=seq, item=item
            ),
        )

    async def _monitor(self, session_id: str, party_id: str) -> None:
        """Listen placed a supervisor's leg in the call: show it as such."""
        await self.publish(self.model.mark_monitor(session_id, party_id))

    def _forget(self, session_id: str) -> None:
        self._touched.pop(session_id, None)
        self._sequences.forget(session_id)
        # When it ended, so the sweeper does not doubt a fresh end (bounded).
        self._ended_at[session_id] = time.monotonic()
        if len(self._ended_at) > ENDED_KEPT:
            self._ended_at.popitem(last=False)

    async def _on_connected(self, connected: Connected) -> None:
        self.connections += 1
        self.connected_at = time.monotonic()
        self.subscription_id = str(connected.subscription.get("id") or "") or None
        outage = time.monotonic() - self._lost_at if self._lost_at else 0.0
        self._lost_at = None
        buffer = connected.details.recovery_buffer_size or 100
        missed = outage * self.event_rate  # about how many events went by
        if connected.recovered and (outage > RECOVERY_TRUST or missed > buffer / 2):
            # RingCentral replays at most recoveryBufferSize notifications,
            # dropping the oldest: an outage on a busy account (100 events
            # are a tenth of a second at 1,000/s) may have lost some even
            # though the session was recovered.
            logger.info(
                "recovered after a %.1f s outage (~%.0f events at %.0f/s, "
                "buffer %d): resyncing",
                outage,
                missed,
                self.event_rate,
                buffer,
            )
            self.start_resync()
        if not connected.recovered:
            # A start or an unrecovered reconnect: events may have been lost.
            # (Started before the status goes out: whoever sees "connected"
            # can then await `resynced` for this very resync.)
            self.start_resync()
            self._sync_directory()
        await self._set_status(connected=True, error=None)

    # --- resync, gaps and ghosts ------------------------------------------

    def start_resync(self, *, quiet_for: float = 0.0) -> None:
        """Run a full resync in the background (at most one at a time; one
        asked for while another runs follows it, since the running one read
        presence too early to see what prompted the new request).
        `quiet_for`: leave calls that changed this recently alone."""
        self.resynced.clear()
        if self._resync_task is None or self._resync_task.done():
            self._quiet_for = quiet_for
            self._resync_task = self.tasks.spawn(self._resync())
        else:  # the one that follows checks everything
            self._resync_again = True
            self._quiet_for = 0.0

    async def _resync(self) -> None:
        try:
            while True:
                self._resync_again = False
                try:
                    started = datetime.now(UTC)
                    await self.resyncer.run(settled=self._quiet_since(self._quiet_for))
                    self.resyncs += 1
                    self.floor_known.set()
                    if not self._restored:
                        # Before the history's next write (below), or its
                        # holds would count twice; bounded, so a busy or
                        # absent database holds the first snapshot back
                        # at most RESTORE_TIMEOUT.
                        self._restored = True
                        try:
                            async with asyncio.timeout(RESTORE_TIMEOUT):
                                await self._restore_times()
                        except TimeoutError:
                            logger.warning(
                                "the call journal did not answer in %.0f s: "
                                "clocks of calls live at the start begin now",
                                RESTORE_TIMEOUT,
                            )
                    await upkeep.close_missing_history(
                        self.history,
                        self.model.live_ids(),
                        resync_started=started,
                    )
                except TelephonyRejected as exc:
                    if exc.status != 429:
                        logger.warning(
                            "resync failed: %s (retried by the sweeper)", exc
                        )
                    else:  # rate-limited: wait as RingCentral asks, then again
                        wait = exc.retry_after or DEFAULT_RETRY_AFTER
                        logger.warning("resync rate-limited; again in %.0f s", wait)
                        await asyncio.sleep(wait)
                        self._resync_again = True
                except TelephonyError as exc:
                    logger.warning("resync failed: %s (retried by the sweeper)", exc)
                if not self._resync_again:
                    break
        finally:
            self.resynced.set()

    async def _restore_times(self) -> None:
        """After the first resync of this run: calls already live when the
        worker started take back their clocks (a hold in progress keeps its
        hold time, for the consoles and the history) from their last stored
        state in the call journal."""
        stored = await journal_last_states(list(self._views))
        for call in stored.values():
            self.history.adopt(call)
            await self.publish(self.model.restore_times(call))

    def _quiet_since(self, seconds: float) -> Callable[[str], bool]:
        """Whether a call has not changed for `seconds`."""
        cutoff = time.monotonic() - seconds

        def settled(session_id: str) -> bool:
            changed = self._touched.get(session_id) or self._ended_at.get(session_id)
            return (changed or 0.0) <= cutoff

        return settled

    def _sync_directory(self) -> None:
        """Refresh names for numbers, the call queues and their members
        (one refresh at a time)."""
        if self._directory_task is None or self._directory_task.done():
            self.directory_refreshed.clear()
            self._directory_task = self.tasks.spawn(self._refresh_directory())

    async def _refresh_directory(self) -> None:
        # Started right after the resync (on_connected): the member lists
        # wait for it, since both spend the Light group's budget and the
        # resync's session reads are what the floor needs first.
        try:
            await upkeep.refresh_directory(
                self.client,
                on_queues=self._learn_queues,
                members_after=self.resynced.wait,
                members_interval=self.members_interval,
            )
        finally:
            self.directory_refreshed.set()

    def _learn_queues(self, queues: dict[str, str]) -> None:
        self.model.known.queues = queues

    def _watch_sequence(self, event: SessionEvent) -> None:
        session_id = event.telephony_session_id
        new_call = session_id not in self._touched  # no CallDict built here
        if self._sequences.see(session_id, event.sequence, new_call=new_call):
            check = self.tasks.spawn(self._check_gap(session_id))
            self._gap_checks.add(check)
            check.add_done_callback(self._gap_checks.discard)

    async def _check_gap(self, session_id: str) -> None:
        await asyncio.sleep(self.gap_grace)  # reordered events fill holes
        if self._resync_task is not None and not self._resync_task.done():
            # A call already in progress when the stream (re)joined shows
            # up mid-way: the resync under way reads it (reading it here
            # too cost a second request from RingCentral's budget).
            await self.resynced.wait()
        if self._sequences.has_holes(session_id):
            logger.info("sequence gap in %s: re-reading it", session_id)
            self._sequences.clear_holes(session_id)
            await self.resyncer.refresh(session_id)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            self._sequences.prune(set(self._touched))
            if self.status["connected"]:
                await self.sweep()

    async def sweep(self) -> int:
        """Compare the floor with RingCentral's presence: calls the platform
        no longer has end (their final event was lost), calls whose state
        disagrees are re-read, calls the model lacks are added; only calls
        quiet for `ghost_after` are re-read (GETs for differences only).
        Returns how many calls ended."""
        before = self.resyncer.last_report
        self.start_resync(quiet_for=self.ghost_after)
        await self.resynced.wait()
        report = self.resyncer.last_report
        ended = report.ended if report is not before and report else 0
        if ended:
            logger.info("ghost sweeper: %d calls had ended unseen", ended)
        return ended

    # --- status -----------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Freshness figures for /healthz (JSON-ready)."""
        now = time.monotonic()

        def age(moment: float | None) -> float | None:
            return None if moment is None else round(now - moment, 3)

        connected = bool(self.status["connected"])
        return {
            "connected": connected,
            "subscription_active": connected and self.subscription_id is not None,
            "error": self.status["error"],
            "live_calls": len(self.model),
            "seconds_since_last_event": age(self.last_event_at),
            "seconds_since_connected": age(self.connected_at),
            "reconnects": max(0, self.connections - 1),
            "resyncs": self.resyncs,
            **self.leader,
        }

    async def _set_status(self, *, connected: bool, error: str | None) -> None:
        self.status = {"connected": connected, "error": error, "since": now_iso()}
        self.status.update(self.leader)
        await self._publish_status()

    async def _publish_status(self) -> None:
        """The link to RingCentral as consoles see it, stamped with when the
        newest event arrived and when this was sent (`beat`): the feed
        sends one every BEAT_INTERVAL, so a page can tell a quiet floor
        (beats arrive, link up) from a stale one (link down, or no beat)."""
        self.status["lastEventAt"] = self._wall(self.last_event_at)
        self.status["beat"] = now_iso()
        try:
            async with self.outbox.sending:  # after the changes it counts
                await broadcast.publish_worker_status(
                    self.layer, epoch=self.epoch, seq=self.seq, status=dict(self.status)
                )
        except Exception:  # consoles also read the status from snapshots
            logger.exception("could not publish the worker status")

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.beat_interval)
            await self._publish_status()

    @staticmethod
    def _wall(moment: float | None) -> str | None:
        """A monotonic moment as wall-clock ISO text."""
        if moment is None:
            return None
        ago = time.monotonic() - moment
        return (
            (datetime.now(UTC) - timedelta(seconds=ago))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )

    async def settled(self) -> None:
        """Wait until pending gap checks and the running resync are done."""
        while pending := [t for t in (*self._gap_checks, self._resync_task) if t]:
            await asyncio.wait(pending)
            self._gap_checks.difference_update(pending)
            if self._resync_task in pending:
                self._resync_task = None
