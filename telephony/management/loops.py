"""Event loops of their own for `manage.py serve`.

In one process, the telephony worker must never wait behind daphne: a
stampede of 1,000 consoles or a busy feed on daphne's loop once delayed
the worker's RingCentral socket past its keepalive timeout (the socket
dropped, and hundreds of re-reads ran into RingCentral's rate limit). So
`serve` runs the worker, and the embedded RingCentral it stands in for, each
on an asyncio loop in a thread of its own (`LoopThread`). The GIL still
serialises Python code, but it switches threads every few milliseconds, so
neither loop's timers and socket reads wait for the other's backlog.

The in-memory channel layer lives on daphne's loop and is not thread-safe;
the worker uses it through `LayerBridge`, which runs every call on that loop:
sends in the order they were made (one queue, one draining task), receives
and channel creation by awaiting the result.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger("telephony.serve")


class LoopThread:
    """An asyncio loop running in a daemon thread until `stop()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> LoopThread:
        self._thread.start()
        return self

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Run `coro` on this loop; the future is thread-safe."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop (after its tasks were told to finish) and join."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(
                    asyncio.gather(*pending, return_exceptions=True)
                )
            self.loop.close()


class LayerBridge:
    """A channel layer on another loop, usable from this one.

    Only what the worker calls: `send` and `group_send` (in order, not
    awaited across the thread: a publish must not wait for daphne), and
    `receive`, `new_channel`, `group_add`, `group_discard` (awaited).
    """

    def __init__(self, layer: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.loop = loop  # the layer's own loop (daphne's)
        self._outbox: collections.deque[tuple[str, tuple[Any, ...]]] = (
            collections.deque()
        )
        self._lock = threading.Lock()
        self._draining = False
        self._drain_task: asyncio.Task[None] | None = None

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        self._post("send", (channel, message))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self._post("group_send", (group, message))

    async def receive(self, channel: str) -> Any:
        return await self._call(self.layer.receive, channel)

    async def new_channel(self, prefix: str = "specific.") -> Any:
        return await self._call(self.layer.new_channel, prefix)

    async def group_add(self, group: str, channel: str) -> None:
        await self._call(self.layer.group_add, group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        await self._call(self.layer.group_discard, group, channel)

    async def _call(self, method: Any, *args: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(method(*args), self.loop)
        return await asyncio.wrap_future(future)

    def _post(self, method: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            self._outbox.append((method, args))
            if self._draining:
                return
            self._draining = True
        self.loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        self._drain_task = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._outbox:
                    self._draining = False
                    return
                method, args = self._outbox.popleft()
            try:
                await getattr(self.layer, method)(*args)
            except Exception:  # consoles see the seq gap and the feed reloads
                logger.exception("could not pass the worker's %s on", method)
