"""Reading RingCentral's paged lists frugally (docs/ringcentral.md 3.2, 8).

RingCentral's lists (`records`, `paging`, `navigation`) are read one page
at a time, paced, never a page past the last; a 429 is waited out as
RingCentral asks, a few times per page. The extension list
(`directory.py`) and the call queues' member lists (`queues.py`) share
this pager.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telephony.ringcentral.exceptions import TelephonyRejected

logger = logging.getLogger("telephony.ringcentral.paging")

JsonDict = dict[str, Any]
Request = Callable[[str, str], Awaitable[JsonDict]]
Sleep = Callable[[float], Awaitable[Any]]

# RingCentral's penalty when it does not say (Retry-After is usually set).
DEFAULT_RETRY_AFTER = 60.0
RETRIES_PER_PAGE = 2
# A runaway guard: 1,000 pages of 1,000 (the most RingCentral sends) is far
# beyond any account.
MAX_PAGES = 1_000


class Pacer:
    """At most one request per `interval` seconds: waits before every
    request but the first. One pacer shared by several lists paces them
    all as one stream of requests."""

    def __init__(self, interval: float, sleep: Sleep = asyncio.sleep) -> None:
        self.interval = interval
        self.sleep = sleep
        self._started = False

    async def __call__(self) -> None:
        if self._started and self.interval > 0:
            await self.sleep(self.interval)
        self._started = True


async def read_list(
    request: Request,
    path: str,
    *,
    per_page: int,
    pace: Pacer,
    what: str,
) -> list[JsonDict]:
    """Every record of the list at `path`, page by page, in order.

    `request(method, path)` is `RingCentralClient.request` (background).
    Follows `navigation.nextPage`, else `paging.totalPages`, else stops at
    the first short page. Raises the client's errors (after waiting out up
    to RETRIES_PER_PAGE 429s per page, with the pacer's `sleep`).
    """
    records: list[JsonDict] = []
    separator = "&" if "?" in path else "?"
    for page in range(1, MAX_PAGES + 1):
        await pace()
        body = await _page(
            request, f"{path}{separator}perPage={per_page}&page={page}", pace, what
        )
        rows = [row for row in body.get("records") or [] if isinstance(row, dict)]
        records.extend(rows)
        if not rows or not _has_next(
            body, page=page, count=len(rows), per_page=per_page
        ):
            break
    else:
        logger.warning("%s: stopped after %d pages", what, MAX_PAGES)
    return records


async def _page(request: Request, path: str, pace: Pacer, what: str) -> JsonDict:
    for attempt in range(RETRIES_PER_PAGE + 1):
        try:
            return await request("GET", path)
        except TelephonyRejected as exc:
            if exc.status != 429 or attempt == RETRIES_PER_PAGE:
                raise
            delay = exc.retry_after or DEFAULT_RETRY_AFTER
            logger.warning("%s rate-limited; retrying in %.0f s", what, delay)
            await pace.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _has_next(body: JsonDict, *, page: int, count: int, per_page: int) -> bool:
    navigation = body.get("navigation")
    if isinstance(navigation, dict):
        return "nextPage" in navigation
    total = (body.get("paging") or {}).get("totalPages")
    if isinstance(total, int):
        return page < total
    return count >= per_page
