"""One leader, standbys: run the worker only while this process holds the
lease (telephony.worker.lease), and fence it the moment it does not.

`Leadership.serve(term)` stands by until the lease is taken, runs
`term(fence)` (a fresh client and worker) while a renewal task keeps the
lease, and cancels it the moment the lease is lost or cannot be renewed in
time; then it stands by again. The `Fence` is what the worker checks
before acting: an in-memory flag the renewal task keeps, and the deadline
of the last successful renewal. `FencedLayer` applies it to the channel
layer: every message out carries the generation and nothing is sent or
read once the fence is down; `Fence.check` guards every RingCentral
request (RingCentralClient's `guard`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telephony import broadcast, metrics
from telephony.ringcentral.exceptions import TelephonyUnavailable
from telephony.worker.lease import ACQUIRE_EVERY, SAFETY_MARGIN, STORE_TIMEOUT, Lease

logger = logging.getLogger("telephony.worker")


class LeaseLost(TelephonyUnavailable):
    """This worker no longer holds the lease: it must not act."""


class Fence:
    """One term of leadership as the worker sees it."""

    def __init__(self, *, holder: str, generation: int, deadline: float) -> None:
        self.holder, self.generation = holder, generation
        self.deadline = deadline  # monotonic: trusted until then
        self.held = True

    def valid(self) -> bool:
        return self.held and time.monotonic() < self.deadline

    def check(self) -> None:
        """Raise LeaseLost unless this term still holds the lease."""
        if not self.valid():
            raise LeaseLost(f"lease of generation g{self.generation} lost")

    def describe(self) -> dict[str, Any]:
        """Who leads, for /healthz and the worker status."""
        return {"leader": self.holder, "generation": self.generation}


class FencedLayer:
    """The channel layer as the leader's worker uses it: each message sent
    is stamped with the generation; a lost lease sends and reads nothing."""

    def __init__(self, layer: Any, fence: Fence) -> None:
        self.layer, self.fence = layer, fence

    # Sent again on a dropped connection (broadcast.send_again): after a
    # Redis restart a command's reply lost that way left its console
    # waiting for nothing. The fence is checked before every try.

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await broadcast.send_again(
            lambda: self.layer.send(
                channel, broadcast.stamp(message, self.fence.generation)
            ),
            before=self.fence.check,
        )

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await broadcast.send_again(
            lambda: self.layer.group_send(
                group, broadcast.stamp(message, self.fence.generation)
            ),
            before=self.fence.check,
        )

    async def receive(self, channel: str) -> dict[str, Any]:
        self.fence.check()
        message: dict[str, Any] = await self.layer.receive(channel)
        return message

    def __getattr__(self, name: str) -> Any:  # new_channel, group_add, ...
        return getattr(self.layer, name)


Term = Callable[[Fence], Coroutine[Any, Any, None]]


class Leadership:
    """Stand by, lead, stand by again: for as long as `serve` runs."""

    def __init__(self, lease: Lease, *, acquire_every: float = ACQUIRE_EVERY) -> None:
        self.lease = lease
        self.acquire_every = acquire_every
        self.fence: Fence | None = None  # the current term's, while leading
        self.terms = 0
        # Set while leading, cleared while standing by (tests await them).
        self.leading, self.standing_by = asyncio.Event(), asyncio.Event()

    async def serve(self, term: Term) -> None:
        """Run `term` whenever this process leads, until cancelled or a term
        ends by itself (then the lease is given up: a term that fails
        raises, one that returns ends `serve`)."""
        try:
            while not await self._lead(term, await self._acquire()):
                pass
        finally:
            self._stand_by(log=False)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STORE_TIMEOUT * 2):
                    await self.lease.release()  # the standby need not wait

    async def _acquire(self) -> Fence:
        self._stand_by(log=True)
        failing = False
        while True:
            sent = time.monotonic()
            try:
                async with asyncio.timeout(STORE_TIMEOUT * 2):
                    acquired = await self.lease.try_acquire()
                failing = False
            except Exception as exc:  # the store is down: keep standing by
                if not failing:
                    logger.warning("cannot reach the lease store (%s); retrying", exc)
                failing, acquired = True, False
            if acquired:
                return Fence(
                    holder=self.lease.holder,
                    generation=self.lease.generation,
                    deadline=sent + self.lease.ttl - SAFETY_MARGIN,
                )
            await asyncio.sleep(self.acquire_every)

    async def _lead(self, term: Term, fence: Fence) -> bool:
        """Lead until the lease is lost (False) or `term` ends (True)."""
        self.fence, self.terms = fence, self.terms + 1
        self.standing_by.clear()
        self.leading.set()
        metrics.leadership_changed(leading=True, generation=fence.generation)
        logger.info(
            "leading: %s holds the %s lease (generation g%d)",
            fence.holder,
            self.lease.kind,
            fence.generation,
        )
        run = asyncio.create_task(term(fence))
        keep = asyncio.create_task(self._keep(fence))
        try:
            done, _ = await asyncio.wait({run, keep}, return_when="FIRST_COMPLETED")
        finally:
            fence.held = False  # refuse at once, before anything else runs
            for task in (run, keep):
                task.cancel()
            await asyncio.wait({run, keep})
        if run in done and not run.cancelled() and run.exception() is not None:
            raise run.exception()  # type: ignore[misc]
        if keep in done:
            logger.warning(
                "lost the lease (generation g%d): stopped acting", fence.generation
            )
            return False
        return True  # serve's `finally` gives the lease to a standby

    async def _keep(self, fence: Fence) -> None:
        """Renew every `renew_every` until the lease is refused or the
        deadline passes without a successful renewal; then return."""
        while True:
            left = fence.deadline - time.monotonic()
            if left <= 0:
                logger.warning("could not renew the lease in time")
                return
            await asyncio.sleep(min(self.lease.renew_every, left))
            if fence.deadline <= time.monotonic():
                continue  # report it above
            sent = time.monotonic()
            try:
                async with asyncio.timeout(STORE_TIMEOUT):
                    ours = await self.lease.renew()
            except Exception as exc:  # unknown: try again within the ttl
                logger.warning("lease renewal failed (%s)", exc)
                continue
            if not ours:
                logger.warning("the lease is no longer ours")
                return
            fence.deadline = sent + self.lease.ttl - SAFETY_MARGIN

    def _stand_by(self, *, log: bool) -> None:
        if log:
            logger.info("standing by until the %s lease is free", self.lease.kind)
        self.fence = None
        self.leading.clear()
        self.standing_by.set()
        metrics.leadership_changed(leading=False, generation=None)
