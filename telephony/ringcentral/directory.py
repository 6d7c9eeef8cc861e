"""The account's extension directory: names and numbers for the history
and the UI, read from RingCentral's paged extension list (docs/ringcentral.md 8).

`GET /restapi/v1.0/account/~/extension` is in RingCentral's Medium rate
group (40 requests a minute), which the worker shares with other calls, so
the pager is frugal: one request at a time, paced, never a page past the
last, and it waits out a 429 as RingCentral asks (`paging.read_list`).
https://developers.ringcentral.com/api-reference/Extensions/listExtensions
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telephony.ringcentral.paging import JsonDict, Pacer, Request, read_list

PATH = "/restapi/v1.0/account/~/extension"
# 1.5 s between pages keeps the pager alone under the Medium group's 40/min.
PAGE_INTERVAL = 1.5


async def directory_sync(
    *,
    request: Request,
    per_page: int = 1000,  # RingCentral's maximum: 10 requests for 10,000 users
    interval: float = PAGE_INTERVAL,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> list[JsonDict]:
    """Every extension of the account, page by page; ids made strings.

    `request(method, path)` is `RingCentralClient.request`. Follows
    `navigation.nextPage`, else `paging.totalPages`, else stops at the
    first short page. Raises the client's errors (after waiting out up to
    `paging.RETRIES_PER_PAGE` 429s per page); feed the result to
    `services.extension_directory_replace`.
    """
    rows = await read_list(
        request,
        PATH,
        per_page=per_page,
        pace=Pacer(interval, sleep),
        what="extension list",
    )
    records: dict[str, JsonDict] = {}
    for row in rows:
        if row.get("id") is not None:
            # A list that shifts between pages may repeat one: last wins.
            records[str(row["id"])] = {**row, "id": str(row["id"])}
    return list(records.values())
