"""The worker's database upkeep after a (re)connection, off the live path:
closing the history of calls that ended unseen, and refreshing the
extension directory and the call queues' members. Each swallows its own
failures: none may ever stop the stream."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from channels.db import database_sync_to_async

from telephony.history import services
from telephony.history.writer import HistoryWriter
from telephony.ringcentral.client import RingCentralClient
from telephony.ringcentral.directory import directory_sync
from telephony.ringcentral.exceptions import TelephonyError
from telephony.ringcentral.queues import MEMBERS_INTERVAL, queue_members_sync

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


async def refresh_directory(
    client: RingCentralClient,
    *,
    on_queues: Callable[[dict[str, str]], object] | None = None,
    members_after: Callable[[], Awaitable[object]] | None = None,
    members_interval: float = MEMBERS_INTERVAL,
) -> dict[str, str] | None:
    """Names and extension numbers from the paged extension list, then
    each call queue's members, all with background (budgeted) requests.
    `on_queues` is told the call queues (extension id -> name) as soon as
    the list is read, before the slower member lists; the member lists
    wait for `members_after()` (the worker's resync: its session reads
    share the Light group and matter more). Returns the queues, or None
    when the list could not be read (the membership is then kept)."""
    try:
        records = await directory_sync(
            request=functools.partial(client.request, background=True)
        )
    except TelephonyError as exc:
        logger.warning("extension directory sync failed: %s", exc)
        return None
    try:
        await database_sync_to_async(services.extension_directory_replace)(
            records=records
        )
    except Exception:  # the live floor still learns the queues
        logger.exception("could not store the extension directory")
    queues = queues_of(records)
    if on_queues is not None:
        on_queues(queues)
    if records:  # an empty list is a bad read (extension_directory_replace)
        if members_after is not None:
            await members_after()
        await refresh_queue_members(client, queues, interval=members_interval)
    return queues


async def refresh_queue_members(
    client: RingCentralClient,
    queue_ids: Iterable[str],
    *,
    interval: float = MEMBERS_INTERVAL,
) -> dict[str, list[str]] | None:
    """Each call queue's members (one paced, background request per queue
    and per 1,000 members) stored in place of the last ones; None when
    they could not be read or stored (the last ones are then kept)."""
    try:
        members = await queue_members_sync(
            request=functools.partial(client.request, background=True),
            queue_ids=queue_ids,
            interval=interval,
        )
    except TelephonyError as exc:
        logger.warning("call-queue members sync failed (kept the last): %s", exc)
        return None
    try:
        counts = await database_sync_to_async(services.queue_members_replace)(
            members=members
        )
    except Exception:
        logger.exception("could not store the call queues' members")
        return None
    logger.info(
        "call-queue members: %d queues, %d memberships (%d added, %d removed)",
        len(members),
        counts["stored"],
        counts["added"],
        counts["removed"],
    )
    return members


def queues_of(records: list[dict[str, Any]]) -> dict[str, str]:
    """Call queues (RingCentral type `Department`) among extension records."""
    return {
        str(r["id"]): str(r.get("name") or r.get("extensionNumber") or r["id"])
        for r in records
        if r.get("type") == "Department"
    }


async def known_queues() -> dict[str, str]:
    """The call queues the database knows from the last directory sync."""
    try:
        records = await database_sync_to_async(services.extension_records)(
            type="Department"
        )
    except Exception:  # a fresh database: the sync will tell
        logger.exception("could not read the call queues from the directory")
        return {}
    return queues_of(records)
