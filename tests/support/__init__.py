"""Every test helper lives in this package (one module per concern):

- `served`: the product as a user runs it (`manage.py serve`, alone or
  following the embedded RingCentral in a process of its own; processes,
  logins) in subprocesses on free loopback ports;
- `browser`: Debian's Chromium through Playwright, logged in to it;
- `lean_clients`: the fan-out benchmark's lean consoles (child processes)
  and its bare `websockets` floor server;
- `fanout`: running those consoles against a served app or the scaled
  deployment (child processes, memory and CPU from /proc, /metrics),
  checking their floors against the embedded RingCentral's truth, and the
  same-run floor and figures the benchmarks print: the fan-out and
  cluster benchmarks and the soak;
- `sim`: scripting the embedded RingCentral's floor through its control API;
- `worker`: a TelephonyWorker against the embedded RingCentral;
- `paths`: the reference data in tests/fixtures.

WAIT bounds every await on the network in a test (seconds); scale it with
SWITCHBOARD_TEST_WAIT on a slow machine. It is a bound, never a sleep.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

WAIT = float(os.environ.get("SWITCHBOARD_TEST_WAIT", "10"))


async def eventually(condition: Callable[[], bool]) -> None:
    """Return once `condition()` holds, checking every 10 ms, within WAIT.

    Only for state that offers nothing to await (e.g. a channel layer's
    group membership); anything that has an event is awaited instead.
    """
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - nothing to await here
            await asyncio.sleep(0.01)
