"""A console as the page is one, in Python: a real WebSocket to a served
Switchboard, the snapshot parts and numbered deltas applied as the page
applies them (dashboard/protocol.py), every frame checked against the
protocol. For tests that need many consoles or a scaled deployment."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import websockets

from dashboard import protocol
from tests.support import WAIT


class Console:
    """One console's socket and its copy of the floor."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.calls: dict[str, dict[str, Any]] = {}
        self.n: int | None = None
        self.epoch: str | None = None
        self.worker: dict[str, Any] = {}
        self.others: list[dict[str, Any]] = []  # frames besides the floor's
        self._parts: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str, cookie: str) -> Console:
        ws = await websockets.connect(
            url.replace("http", "ws", 1) + "/ws/console/",
            additional_headers={"Cookie": cookie, "Origin": url},
            max_size=2**21,
        )
        return cls(ws)

    async def frame(self) -> dict[str, Any]:
        """The next frame (within WAIT), applied to this console's floor."""
        async with asyncio.timeout(WAIT):
            frame: dict[str, Any] = json.loads(await self.ws.recv())
        protocol.check_frame(frame)
        self._apply(frame)
        return frame

    async def until(self, done: Callable[[Console], bool]) -> None:
        """Read frames until `done(self)` holds."""
        while not done(self):
            await self.frame()

    async def synced(self) -> Console:
        """Wait for the whole snapshot."""
        await self.until(lambda c: c.n is not None)
        return self

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def reply(self, **match: Any) -> dict[str, Any]:
        """The next non-floor frame whose fields equal `match`."""
        while True:
            for frame in self.others:
                if all(frame.get(k) == v for k, v in match.items()):
                    self.others.remove(frame)
                    return frame
            await self.frame()

    async def close(self) -> None:
        await self.ws.close()

    def _apply(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "snapshot":
            self._parts.append(frame)
            if frame["part"] == frame["parts"]:
                self.calls = {c["id"]: c for f in self._parts for c in f["calls"]}
                self.n, self.epoch, self.worker = (
                    frame["n"],
                    frame["epoch"],
                    frame["worker"],
                )
                self._parts = []
        elif kind == "delta":
            assert self.n is not None and frame["epoch"] == self.epoch
            if frame["n"] <= self.n:
                return
            assert frame["n"] == self.n + 1, f"gap: {self.n} -> {frame['n']}"
            self.n = frame["n"]
            self.calls.update((c["id"], c) for c in frame["calls"])
            for call_id in frame["ended"]:
                self.calls.pop(call_id, None)
        elif kind == "worker_status":
            self.worker = frame["worker"]
        else:
            self.others.append(frame)
