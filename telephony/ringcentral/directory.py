"""The account's extension directory: names and numbers for the history
and the UI, read from RingCentral's paged extension list (docs/ringcentral.md 8).

`GET /restapi/v1.0/account/~/extension` is in RingCentral's Medium rate
group (40 requests a minute), which the worker shares with other calls, so
the pager is frugal: one request at a time, paced, never a page past the
last, and it waits out a 429 as RingCentral asks.
https://developers.ringcentral.com/api-reference/Extensions/listExtensions
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telephony.ringcentral.exceptions import TelephonyRejected

logger = logging.getLogger("telephony.ringcentral.directory")

JsonDict = dict[str, Any]
Request = Callable[[str, str], Awaitable[JsonDict]]

PATH = "/restapi/v1.0/account/~/extension"
# 1.5 s between pages keeps the pager alone under the Medium group's 40/min.
PAGE_INTERVAL = 1.5
# RingCentral's penalty when it does not say (Retry-After is usually set).
DEFAULT_RETRY_AFTER = 60.0
RETRIES_PER_PAGE = 2
# A runaway guard: 1,000 pages of 100 is far beyond any account.
MAX_PAGES = 1_000


async def directory_sync(
    *,
    request: Request,
    per_page: int = 100,
    interval: float = PAGE_INTERVAL,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> list[JsonDict]:
    """Every extension of the account, page by page; ids made strings.

    `request(method, path)` is `RingCentralClient.request`. Follows
    `navigation.nextPage`, else `paging.totalPages`, else stops at the
    first short page. Raises the client's errors (after waiting out up to
    RETRIES_PER_PAGE 429s per page); feed the result to
    `services.extension_directory_replace`.
    """
    records: dict[str, JsonDict] = {}
    for page in range(1, MAX_PAGES + 1):
        if page > 1 and interval > 0:
            await sleep(interval)
        body = await _page(request, f"{PATH}?perPage={per_page}&page={page}", sleep)
        rows = body.get("records") or []
        for row in rows:
            if isinstance(row, dict) and row.get("id") is not None:
                # A list that shifts between pages may repeat one: last wins.
                records[str(row["id"])] = {**row, "id": str(row["id"])}
        if not rows or not _has_next(
            body, page=page, count=len(rows), per_page=per_page
        ):
            break
    else:
        logger.warning("extension list: stopped after %d pages", MAX_PAGES)
    return list(records.values())


async def _page(
    request: Request, path: str, sleep: Callable[[float], Awaitable[Any]]
) -> JsonDict:
    for attempt in range(RETRIES_PER_PAGE + 1):
        try:
            return await request("GET", path)
        except TelephonyRejected as exc:
            if exc.status != 429 or attempt == RETRIES_PER_PAGE:
                raise
            delay = exc.retry_after or DEFAULT_RETRY_AFTER
            logger.warning("extension list rate-limited; retrying in %.0f s", delay)
            await sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _has_next(body: JsonDict, *, page: int, count: int, per_page: int) -> bool:
    navigation = body.get("navigation")
    if isinstance(navigation, dict):
        return "nextPage" in navigation
    total = (body.get("paging") or {}).get("totalPages")
    if isinstance(total, int):
        return page < total
    return count >= per_page
