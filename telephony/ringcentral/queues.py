"""Who belongs to which call queue: each queue's paged member list
(docs/ringcentral.md 8.6).

The queues themselves are the extension list's `Department` records,
which the directory sync has just read, so the call-queue list (Medium)
would tell nothing new and is not read. Each queue's members come from
`GET /restapi/v1.0/account/~/call-queues/{groupId}/members`, in the Light
group: 50 requests a minute shared with Call Control, the resync's session
reads and gap checks, of which background work may spend 40 (the rest is
the supervisors' command reserve). So the reader is frugal: one request per
queue (and per 1,000 members), one at a time, MEMBERS_INTERVAL apart, which
takes at most half of the background share and leaves the other half to
gap checks and ghost sweeps (the worker reads the lists only after its
resync, whose session reads the floor needs first).
https://developers.ringcentral.com/api-reference/Call-Queues/listCallQueueMembers
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import quote

from telephony.ringcentral.exceptions import TelephonyRejected
from telephony.ringcentral.paging import Pacer, Request, read_list

logger = logging.getLogger("telephony.ringcentral.queues")

CALL_QUEUES = "/restapi/v1.0/account/~/call-queues"
# At most 20 member lists a minute: half of the Light group's background
# budget (50 a minute less the 10 kept for commands).
MEMBERS_INTERVAL = 3.0


def members_path(queue_id: str) -> str:
    """The member list of one queue (its id encoded whole)."""
    return f"{CALL_QUEUES}/{quote(queue_id, safe='')}/members"


async def queue_members_sync(
    *,
    request: Request,
    queue_ids: Iterable[str],
    per_page: int = 1000,  # the paging model's maximum
    interval: float = MEMBERS_INTERVAL,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> dict[str, list[str]]:
    """{queue extension id: [member extension ids]} for every queue named.

    `request(method, path)` is `RingCentralClient.request` (background).
    Member ids are made strings (RingCentral sends integers, older
    definitions strings), in RingCentral's order, each once. A queue
    RingCentral refuses as such (404, e.g. deleted since the extension
    list was read, or an error naming `groupId`) is left out; any other
    error raises, so the caller keeps the membership it had. Feed the
    result to `services.queue_members_replace`.
    """
    pace = Pacer(interval, sleep)
    members: dict[str, list[str]] = {}
    for queue_id in dict.fromkeys(str(q) for q in queue_ids):
        try:
            rows = await read_list(
                request,
                members_path(queue_id),
                per_page=per_page,
                pace=pace,
                what=f"call queue {queue_id} members",
            )
        except TelephonyRejected as exc:
            if not _about_the_queue(exc):
                raise
            logger.info("call queue %s: no member list (%s); skipped", queue_id, exc)
            continue
        ids = (str(row["id"]) for row in rows if row.get("id") is not None)
        members[queue_id] = list(dict.fromkeys(ids))
    return members


def _about_the_queue(exc: TelephonyRejected) -> bool:
    """RingCentral refused this one queue, not every request: a 404 other
    than CMN-120 "Invalid URI" (the endpoint itself missing: skipping every
    queue would erase the membership), or an error naming `groupId`."""
    if exc.status == 404:
        return exc.error_code != "CMN-120"
    return exc.permanent and exc.parameter == "groupId"
