"""The worker's database upkeep after a (re)connection, off the live path:
closing the history of calls that ended unseen, and refreshing the
extension directory. Each swallows its own failures: neither may ever stop
the stream."""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime

from channels.db import database_sync_to_async

from telephony.history import services
from telephony.history.writer import HistoryWriter
from telephony.ringcentral.client import RingCentralClient
from telephony.ringcentral.directory import directory_sync
from telephony.ringcentral.exceptions import TelephonyError

logger = logging.getLogger("telephony.worker")


async def close_missing_history(
    history: HistoryWriter, live_ids: list[str], *, resync_started: datetime
) -> None:
    """Calls that ended while nobody watched are closed as `lost`; calls
    that began during the resync are spared."""
    try:
        history.prune(live_ids)
        await history.flush()
        await database_sync_to_async(services.call_history_close_missing)(
            live_ids=live_ids, now=datetime.now(UTC), seen_before=resync_started
        )
    except Exception:  # history must never break the live path
        logger.exception("could not close the history of ended calls")


async def refresh_directory(client: RingCentralClient) -> None:
    """Names and extension numbers from the paged extension list, with
    background (budgeted) requests."""
    try:
        records = await directory_sync(
            request=functools.partial(client.request, background=True)
        )
        await database_sync_to_async(services.extension_directory_replace)(
            records=records
        )
    except TelephonyError as exc:
        logger.warning("extension directory sync failed: %s", exc)
