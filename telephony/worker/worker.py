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
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from telephony import broadcast, metrics
from telephony.history.writer import HistoryWriter
from telephony.live.gaps import SequenceWatch
from telephony.live.model import Change, LiveModel
from telephony.ringcentral.client import RingCentralClient
from telephony.ringcentral.events import Notification, SessionEvent
from telephony.ringcentral.exceptions import (
    AuthenticationFailed,
    TelephonyError,
    TelephonyRejected,
    describe_refusal,
)
from telephony.ringcentral.stream import Connected, Disconnected, backoff, iter_stream
from telephony.worker import upkeep
from telephony.worker.commands import CONFIRM_TIMEOUT, CommandDesk
from telephony.worker.inbox import Inbox
from telephony.worker.resync import Resyncer
from telephony.worker.tasks import TaskSet

logger = logging.getLogger("telephony.worker")

# A sequence gap may just be reordering: wait this long for the missing
# event before re-reading the session.
GAP_GRACE = 2.0
# How often the ghost sweeper looks, and how long a call must have been
# silent to be re-checked (talk can be long and eventless: be patient).
SWEEP_INTERVAL = 120.0
# A WebSocket session recovered after a longer outage than this is resynced
# anyway: the platform's replay buffer may have overflowed.
RECOVERY_TRUST = 5.0
GHOST_AFTER = 600.0


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
    ) -> None:
        self.client = client
        self.layer = layer
        self.model = model or LiveModel()
        self.reconnect_delays = reconnect_delays
        self.min_reconnect_delay = min_reconnect_delay
        self.gap_grace = gap_grace
        self.sweep_interval = sweep_interval
        self.ghost_after = ghost_after
        self.history = history or HistoryWriter()
        self.resyncer = Resyncer(client=client, model=self.model, publish=self.publish)
        # Identifies this run's delta numbering (see broadcast).
        self.epoch = uuid.uuid4().hex[:12]
        self.tasks = TaskSet()
        self.commands = CommandDesk(
            client=client,
            layer=layer,
            tasks=self.tasks,
            lookup=self.model.get,
            refused=lambda: self.fatal,
            supervisor_device_id=supervisor_device_id,
            confirm_timeout=confirm_timeout,
        )
        self.inbox = Inbox(
            layer=layer,
            epoch=self.epoch,
            snapshot=self.model.snapshot,
            status=lambda: self.status,
            health=self.health,
            desk=self.commands,
            tasks=self.tasks,
        )
        self.connections = 0
        self.resyncs = 0
        self.fatal: TelephonyRejected | None = None
        self.status: dict[str, Any] = {"connected": False, "error": None, "since": None}
        self.subscription_id: str | None = None
        self.last_event_at: float | None = None
        self.connected_at: float | None = None
        self.resynced = asyncio.Event()  # set after each completed resync
        self._touched: dict[str, float] = {}  # session -> last change (monotonic)
        self._sequences = SequenceWatch()
        self._resync_task: asyncio.Task[None] | None = None
        self._gap_checks: set[asyncio.Task[None]] = set()
        self._directory_task: asyncio.Task[None] | None = None
        self._resync_again = False
        self._lost_at: float | None = None
        metrics.watch(self)

    async def run(self) -> None:
        """Serve the inbox, follow the stream and sweep until cancelled.

        A fatal error (bad credentials) stops the stream but not the inbox,
        so consoles keep getting a snapshot that says what is wrong.
        """
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.inbox.serve())
                group.create_task(self.follow_stream())
                group.create_task(self._sweep_forever())
                group.create_task(self.history.run())
        finally:
            self.tasks.cancel_all()
            await self.history.flush()

    # --- the stream -------------------------------------------------------

    async def follow_stream(self) -> None:
        try:
            async for item in iter_stream(
                open_url=self.client.ws_url,
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
        self.last_event_at = time.monotonic()
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
        self.history.record(change)  # O(1); written in batches elsewhere
        session_id = change.call["id"]
        if change.kind == "ended":
            self._forget(session_id)
        else:
            self._touched[session_id] = time.monotonic()
        try:
            await broadcast.publish_call_changed(
                self.layer,
                kind=change.kind,
                epoch=self.epoch,
                seq=change.version,
                call=change.call,
            )
        except Exception:  # e.g. Redis down: consoles see the seq gap later
            logger.exception("could not publish change %s", change.version)
        self.commands.confirm(change)

    def _forget(self, session_id: str) -> None:
        self._touched.pop(session_id, None)
        self._sequences.forget(session_id)

    async def _on_connected(self, connected: Connected) -> None:
        self.connections += 1
        self.connected_at = time.monotonic()
        self.subscription_id = str(connected.subscription.get("id") or "") or None
        outage = time.monotonic() - self._lost_at if self._lost_at else 0.0
        self._lost_at = None
        if connected.recovered and outage > RECOVERY_TRUST:
            # RingCentral replays at most recoveryBufferSize notifications,
            # dropping the oldest: a long outage on a busy account may have
            # lost some even though the session was recovered.
            logger.info("recovered after a %.0f s outage: resyncing", outage)
            self.start_resync()
        if not connected.recovered:
            # A start or an unrecovered reconnect: events may have been lost.
            # (Started before the status goes out: whoever sees "connected"
            # can then await `resynced` for this very resync.)
            self.start_resync()
            self._sync_directory()
        await self._set_status(connected=True, error=None)

    # --- resync, gaps and ghosts ------------------------------------------

    def start_resync(self) -> None:
        """Run a full resync in the background (at most one at a time; one
        asked for while another runs follows it, since the running one read
        presence too early to see what prompted the new request)."""
        self.resynced.clear()
        if self._resync_task is None or self._resync_task.done():
            self._resync_task = self.tasks.spawn(self._resync())
        else:
            self._resync_again = True

    async def _resync(self) -> None:
        try:
            while True:
                self._resync_again = False
                try:
                    started = datetime.now(UTC)
                    await self.resyncer.run()
                    self.resyncs += 1
                    await upkeep.close_missing_history(
                        self.history,
                        [call["id"] for call in self.model.snapshot()[1]],
                        resync_started=started,
                    )
                except TelephonyError as exc:
                    logger.warning("resync failed: %s (retried on reconnect)", exc)
                if not self._resync_again:
                    break
        finally:
            self.resynced.set()

    def _sync_directory(self) -> None:
        """Refresh names for numbers (one refresh at a time)."""
        if self._directory_task is None or self._directory_task.done():
            self._directory_task = self.tasks.spawn(
                upkeep.refresh_directory(self.client)
            )

    def _watch_sequence(self, event: SessionEvent) -> None:
        session_id = event.telephony_session_id
        new_call = session_id not in self._touched  # no CallDict built here
        if self._sequences.see(session_id, event.sequence, new_call=new_call):
            check = self.tasks.spawn(self._check_gap(session_id))
            self._gap_checks.add(check)
            check.add_done_callback(self._gap_checks.discard)

    async def _check_gap(self, session_id: str) -> None:
        await asyncio.sleep(self.gap_grace)  # reordered events fill holes
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
        """If some calls have been silent for `ghost_after`, resync: calls
        the platform no longer has end, stale states are re-read. Returns
        how many calls ended."""
        cutoff = time.monotonic() - self.ghost_after
        if not any(seen <= cutoff for seen in self._touched.values()):
            return 0
        before = self.resyncer.last_report
        self.start_resync()
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
        }

    async def _set_status(self, *, connected: bool, error: str | None) -> None:
        self.status = {"connected": connected, "error": error, "since": now_iso()}
        try:
            await broadcast.publish_worker_status(
                self.layer, epoch=self.epoch, seq=self.model.version, status=self.status
            )
        except Exception:  # consoles also read the status from snapshots
            logger.exception("could not publish the worker status")

    async def settled(self) -> None:
        """Wait until pending gap checks and the running resync are done."""
        while pending := [t for t in (*self._gap_checks, self._resync_task) if t]:
            await asyncio.wait(pending)
            self._gap_checks.difference_update(pending)
            if self._resync_task in pending:
                self._resync_task = None
