"""The cyclic garbage collector, kept from stalling a process that holds
the floor (the worker, each dashboard process, `serve`, the embedded
RingCentral).

Such a process keeps hundreds of thousands of long-lived objects (5,000
calls, their parties and parsed events, 10,000 agents) and replaces a few
hundred of them every second. With Python's defaults a full collection
then walks the whole heap every 10-15 s, holding the GIL for 250-280 ms
in the worker on load-5000 (measured with a `gc.callbacks` probe): no
event is read and nothing is published meanwhile, and those pauses were
the worker's share of the cluster benchmark's p99 (docs/benchmarks.md).

What lives here is almost all acyclic JSON-like data, freed by reference
counting the moment it is replaced; the collector has little to find.
So, from a thread of its own:

- every FREEZE_EVERY seconds, collect the young generations (cheap: they
  hold at most a few thousand objects) and `gc.freeze()` the rest: what
  survived is moved to the permanent generation, which collections skip.
  A full collection then walks only what arrived since the last freeze:
  a few milliseconds.
- every FULL_EVERY seconds, `gc.unfreeze()` and one full collection, so
  a cycle that became garbage after it was frozen is freed within that
  time: memory stays flat (the soak checks it). That one pause is as long
  as before, once every ten minutes instead of every 10-15 s.

Objects die by reference counting whether frozen or not: freezing only
hides them from the cycle detector.

`switchboard_gc_pause_seconds` (by generation) shows the pauses in each
process's /metrics.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from telephony import metrics

logger = logging.getLogger("telephony.gc")

FREEZE_EVERY = 1.0  # seconds
FULL_EVERY = 600.0  # seconds
SLOW_PAUSE = 0.1  # seconds: a pause this long is logged

# Tests set this in their own process (tests/conftest.py): a frozen cycle
# holding an unclosed socket would warn inside a later test. Processes the
# tests start keep the policy, as deployed.
disabled = False

_lock = threading.Lock()
_thread: threading.Thread | None = None
# When the collection under way began: collections never overlap (the
# collector runs under the GIL and refuses to start inside another).
_began: float | None = None


class Policy:
    """One turn a FREEZE_EVERY: young generations collected, everything
    frozen; a full collection first once FULL_EVERY has passed."""

    def __init__(
        self,
        *,
        full_every: float = FULL_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.full_every = full_every
        self._clock = clock
        self.full_at = clock() + full_every

    def step(self) -> int | None:
        """One turn; what a full collection found unreachable, or None
        when it was not time for one."""
        found = None
        if self._clock() >= self.full_at:
            self.full_at = self._clock() + self.full_every
            gc.unfreeze()
            found = gc.collect()
            logger.debug("full collection: %d unreachable objects", found)
        else:
            gc.collect(1)
        gc.freeze()
        metrics.GC_FREEZES.inc()
        return found


def install(
    *, freeze_every: float = FREEZE_EVERY, full_every: float = FULL_EVERY
) -> threading.Thread | None:
    """Start the policy in this process (once; later calls return the
    same thread). None when `disabled`."""
    global _thread
    if disabled:
        return None
    with _lock:
        if _thread is None:
            gc.callbacks.append(_observe)
            _thread = threading.Thread(
                target=_keep_frozen,
                args=(Policy(full_every=full_every), freeze_every),
                name="gc-policy",
                daemon=True,
            )
            _thread.start()
        return _thread


def _keep_frozen(policy: Policy, every: float) -> None:
    while True:
        time.sleep(every)  # a timer thread: nothing to await here
        policy.step()


def _observe(phase: str, info: dict[str, Any]) -> None:
    """gc.callbacks: time each collection, in whichever thread runs it."""
    global _began
    if phase == "start":
        _began = time.perf_counter()
        return
    if _began is None:  # installed during this collection
        return
    seconds, _began = time.perf_counter() - _began, None
    metrics.GC_PAUSE.labels(generation=str(info["generation"])).observe(seconds)
    if seconds >= SLOW_PAUSE:
        logger.info(
            "garbage collection of generation %d held the process for %.0f ms",
            info["generation"],
            seconds * 1000,
        )
