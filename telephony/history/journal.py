"""The call journal: every change the worker publishes, stored behind the
live path, for call timelines and floor replay (docs/architecture.md
"History and replay").

`Journal.record` is called with every published change (synchronous,
O(1), never touches the database). `run()` writes what was recorded every
`flush_interval` seconds in one transaction (`services.call_events_append`)
and, every `mark_interval` seconds, a FloorMark: the id of each live call's
latest stored event, so a replay starts from the last mark before its time
plus at most that many seconds of events.

A slow or absent database never delays the live path: the buffer waits for
the next flush. It is bounded (`max_buffered` changes): when the database
has been away that long, the oldest changes are dropped, counted and
logged (replay then lacks those seconds; call history is written
separately and keeps its own buffer).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from channels.db import database_sync_to_async

from telephony import metrics
from telephony.history import services
from telephony.live.model import Change

logger = logging.getLogger("telephony.history.journal")

FLUSH_INTERVAL = 1.0
MARK_INTERVAL = 60.0
MAX_BUFFERED = 200_000  # about 10 minutes of a 300 events/s floor
BATCH = 2_000


class Journal:
    """Buffer the published changes and write them as CallEvents."""

    def __init__(
        self,
        *,
        live: Callable[[], Collection[str]] = tuple,
        flush_interval: float = FLUSH_INTERVAL,
        mark_interval: float = MARK_INTERVAL,
        max_buffered: int = MAX_BUFFERED,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.live = live  # the ids of the calls live now (for the marks)
        self.flush_interval = flush_interval
        self.mark_interval = mark_interval
        self.clock = clock
        self.dropped = 0
        self.failures = 0
        self.written = asyncio.Event()  # set after every write (tests wait)
        self._buffer: deque[services.JournalEntry] = deque(maxlen=max_buffered)
        self._latest: dict[str, int] = {}  # session -> its latest stored event
        self._marked_at = time.monotonic()
        self._lock = asyncio.Lock()

    def record(self, change: Change) -> None:
        """Take one published change; cheap, never touches the database."""
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
            metrics.JOURNAL_DROPPED.inc()
            if self.dropped % 10_000 == 1:
                logger.warning(
                    "call journal full (%d changes unwritten): dropping the "
                    "oldest; replay will lack them",
                    len(self._buffer),
                )
        self._buffer.append(
            {
                "at": self.clock(),
                "session_id": change.call["id"],
                "kind": change.kind,
                "call": change.call,
            }
        )

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def run(self) -> None:
        """Write every `flush_interval` seconds and mark the floor every
        `mark_interval` seconds, until cancelled."""
        while True:
            await asyncio.sleep(self.flush_interval)
            await self.flush()
            if time.monotonic() - self._marked_at >= self.mark_interval:
                await self.mark()

    async def flush(self) -> bool:
        """Write what is buffered; False if the database refused (the
        changes stay buffered for the next flush)."""
        async with self._lock:
            while self._buffer:
                batch = list(itertools.islice(self._buffer, BATCH))
                try:
                    ids = await database_sync_to_async(services.call_events_append)(
                        entries=batch
                    )
                except Exception:
                    self.failures += 1
                    log = logger.error if self.failures == 1 else logger.warning
                    log(
                        "call journal: %d changes not written (%d failures in a "
                        "row); retrying at the next flush",
                        len(self._buffer),
                        self.failures,
                        exc_info=self.failures == 1,
                    )
                    return False
                self.failures = 0
                for _ in batch:
                    self._buffer.popleft()
                for entry, event_id in zip(batch, ids, strict=True):
                    if entry["kind"] == "ended":
                        self._latest.pop(entry["session_id"], None)
                    else:
                        self._latest[entry["session_id"]] = event_id
                self.written.set()
            return True

    async def mark(self) -> None:
        """Store the floor as it is now, by reference (after a flush, so
        every live call's latest change is stored)."""
        self._marked_at = time.monotonic()
        live = set(self.live())
        for gone in [sid for sid in self._latest if sid not in live]:
            del self._latest[gone]  # ended without an "ended" change (resync)
        events = sorted(self._latest[sid] for sid in live if sid in self._latest)
        try:
            await database_sync_to_async(services.floor_mark_create)(
                at=self.clock(), events=events
            )
        except Exception:
            logger.warning("call journal: could not mark the floor", exc_info=True)


async def last_states(session_ids: Collection[str]) -> dict[str, Any]:
    """Each session's last stored state (CallView), for the worker after a
    restart (hold timers); {} when the database cannot say."""
    with contextlib.suppress(Exception):
        return await database_sync_to_async(services.call_events_last_get)(
            session_ids=list(session_ids)
        )
    logger.warning("call journal: could not read the calls' last states")
    return {}
