"""Call history, written behind the live path.

The worker hands every `Change` of its live model to `HistoryWriter.record`
(synchronous, O(parties), never touches the database). The writer keeps the
latest CallDict of each session plus a small tracker of what single changes
cannot tell (hold time, the first status of each party, flags such as
"reached voicemail"), and `run()` writes the sessions with news in batches,
one transaction each, through `services.call_history_apply` (upserts: a
session seen again, after a restart too, updates its row).

If the database is slow or down, the live path is not affected: the batch
is logged and written again at the next flush. Memory is bounded: one entry
per session, at most `max_sessions` of them (the oldest ended ones go first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection
from typing import Any

from channels.db import database_sync_to_async

from telephony import metrics
from telephony.history import services
from telephony.history.facts import CallTrack
from telephony.history.services import CallFacts
from telephony.live.model import Change
from telephony.live.views import CallView

logger = logging.getLogger("telephony.history.writer")


class HistoryWriter:
    """Buffer the live model's changes and write them as call history."""

    def __init__(
        self,
        *,
        flush_interval: float = 2.0,
        flush_size: int = 200,
        batch_size: int = 500,
        max_sessions: int = 20_000,
    ) -> None:
        self.flush_interval = flush_interval
        self.flush_size = flush_size
        self.batch_size = batch_size
        self.max_sessions = max_sessions
        self.failures = 0  # consecutive failed batches
        self.dropped = 0
        # Set after every batch written (operations and tests wait on it).
        self.written = asyncio.Event()
        self._tracks: dict[str, CallTrack] = {}  # insertion order: oldest first
        self._dirty: dict[str, None] = {}  # sessions with unwritten news
        self._ended: dict[str, None] = {}  # ended, not yet written
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def record(self, change: Change) -> None:
        """Take one change of the live model; cheap, never touches the DB."""
        sid = change.call["id"]
        track = self._tracks.get(sid)
        if track is None:
            if len(self._tracks) >= self.max_sessions:
                self._evict()
            track = self._tracks[sid] = CallTrack(change.call)
        track.observe(change.call, ended=change.kind == "ended")
        if track.ended:
            self._ended[sid] = None
        else:
            self._ended.pop(sid, None)
        self._dirty[sid] = None
        if len(self._dirty) >= self.flush_size:
            self._wake.set()

    def adopt(self, stored: CallView) -> None:
        """A call live when the worker started: its holds up to its last
        stored state were counted by the run before (call_history_apply
        adds what is new), so they are not counted again."""
        track = self._tracks.get(stored["id"])
        if track is not None:
            track.written_holds = max(track.written_holds, stored["hold_count"])

    def prune(self, live_ids: Collection[str]) -> None:
        """Forget written sessions that are no longer live (after a resync
        that rebuilt the model without an "ended" change for them)."""
        for sid in [s for s in self._tracks if s not in live_ids]:
            if sid not in self._dirty:
                self._forget(sid)

    @property
    def pending(self) -> int:
        """Sessions with news not yet written."""
        return len(self._dirty)

    async def run(self) -> None:
        """Flush every `flush_interval` seconds, or sooner when the buffer
        holds `flush_size` sessions, until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> bool:
        """Write every session with news; False if a batch failed (it stays
        buffered for the next flush). Call once more at shutdown."""
        async with self._lock:
            pending = list(self._dirty)
            ok = True
            for start in range(0, len(pending), self.batch_size):
                ok = (
                    await self._write_split(pending[start : start + self.batch_size])
                    and ok
                )
            metrics.HISTORY_PENDING.set(len(self._dirty))
            return ok

    async def _write_split(self, ids: list[str]) -> bool:
        """Write a batch; if it fails, halve it, so one call the database
        refuses stays behind alone instead of holding back every other."""
        if await self._write(ids):
            return True
        if len(ids) == 1:
            return False
        middle = len(ids) // 2
        first = await self._write_split(ids[:middle])
        return await self._write_split(ids[middle:]) and first

    async def _write(self, ids: list[str]) -> bool:
        sent, batch = [], []
        for sid in ids:
            try:
                facts = self._tracks[sid].facts()
            except Exception:  # a call we cannot read would block the rest
                logger.exception("call history: cannot record %s; skipped", sid)
                self._forget(sid)
                continue
            sent.append((sid, self._tracks[sid].version))
            batch.append(facts)
        started = time.perf_counter()
        task = asyncio.ensure_future(_apply(batch))
        try:
            await asyncio.shield(task)
        except Exception:
            pass  # judged below, from the task
        finally:
            # Cancelled (shutdown): the thread commits anyway, so wait for
            # it and account for what it did before giving up.
            if not task.done():
                await asyncio.wait([task])
            ok = not task.cancelled() and task.exception() is None
            self._settle(sent, batch, ok=ok, error=None if ok else task)
        if ok:
            metrics.HISTORY_WRITE_SECONDS.observe(time.perf_counter() - started)
        return ok

    def _settle(
        self,
        sent: list[tuple[str, int]],
        batch: list[CallFacts],
        *,
        ok: bool,
        error: asyncio.Future[Any] | None,
    ) -> None:
        if not ok:
            self.failures += 1
            metrics.HISTORY_WRITE_FAILURES.inc()
            exc = None if error is None or error.cancelled() else error.exception()
            log = logger.error if self.failures == 1 else logger.warning
            log(
                "call history: a batch of %d calls failed (%d in a row); "
                "retrying at the next flush",
                len(batch),
                self.failures,
                exc_info=exc if self.failures == 1 else None,
            )
            return
        self.failures = 0
        for (sid, version), facts in zip(sent, batch, strict=True):
            track = self._tracks.get(sid)
            if track is None:
                continue
            track.written_hold_seconds += facts["hold_seconds_added"]
            track.written_holds += facts["holds_added"]
            if track.version == version:  # nothing new since: written
                self._dirty.pop(sid, None)
                if track.ended:
                    self._forget(sid)
        self.written.set()

    def _evict(self) -> None:
        """Make room: drop the oldest ended session, else the oldest one."""
        sid = next(iter(self._ended), None) or next(iter(self._tracks))
        if sid in self._dirty:  # its news is lost
            self.dropped += 1
            metrics.HISTORY_DROPPED.inc()
            logger.warning("call history buffer full: dropped %s", sid)
        self._forget(sid)

    def _forget(self, sid: str) -> None:
        self._tracks.pop(sid, None)
        self._dirty.pop(sid, None)
        self._ended.pop(sid, None)


async def _apply(batch: list[CallFacts]) -> None:
    await database_sync_to_async(services.call_history_apply)(batch=batch)
