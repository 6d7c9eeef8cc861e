"""The peers of bench_fanout: the lean WebSocket client (run in child
processes, a raw asyncio RFC 6455 protocol that reads frame headers and one
regex per frame, so it is never the bottleneck) and the floor server (a
bare `websockets` broadcast in its own process)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import os
import re
import time
from array import array
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection, serve

CONNECTING = 25  # handshakes in flight per client process
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
UPDATED_AT = re.compile(rb'"updatedAt":\s*"([^"]+)"')
SNAPSHOT = re.compile(rb'"type":\s*"snapshot"')
RATE = 10.0  # call updates per second, as in the table of docs/performance.md 3
WARMUP_S = 3.0
WINDOW_S = 10.0
DRAIN_S = 10.0  # after the window: later deliveries count as lost
BUDGET_S = 300.0  # whole test; a sane run takes about two minutes


# --- the lean client (runs in child processes) ------------------------------


class StampParser:
    """`updatedAt` -> epoch seconds. The product writes ISO-8601 with
    milliseconds and Z; caching the minute keeps the per-frame cost at a
    float() instead of a datetime parse."""

    def __init__(self) -> None:
        self._minutes: dict[bytes, float] = {}

    def __call__(self, raw: bytes) -> float:
        if len(raw) == 24 and raw.endswith(b"Z"):  # 2026-01-01T10:00:00.000Z
            base = self._minutes.get(raw[:16])
            if base is None:
                base = datetime.fromisoformat(raw[:16].decode() + "+00:00").timestamp()
                self._minutes[raw[:16]] = base
            return base + float(raw[17:23])
        return datetime.fromisoformat(raw.decode()).timestamp()


@dataclass
class Tally:
    """What one client process received, over all its connections."""

    first_frame: bool  # ready means "got a first frame", not just "upgraded"
    parse: StampParser = field(default_factory=StampParser)
    stamps: array[float] = field(default_factory=lambda: array("d"))
    latencies: array[float] = field(default_factory=lambda: array("d"))
    snapshots: int = 0
    closed: int = 0
    update_frames: int = 0
    update_bytes: int = 0
    sample: bytes | None = None  # a one-update frame: the floor's template
    window: tuple[float, float] | None = None
    in_window: int = 0
    wanted: int = 0
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    def message(self, payload: bytes, now: float) -> None:
        if SNAPSHOT.search(payload, 0, 64):
            self.snapshots += 1
            return
        found = UPDATED_AT.findall(payload)
        if not found:
            return
        self.update_frames += 1
        self.update_bytes += len(payload)
        if self.sample is None and len(found) == 1:
            self.sample = payload
        for raw in found:
            self._update(self.parse(raw), now)

    def _update(self, stamp: float, now: float) -> None:
        self.stamps.append(stamp)
        self.latencies.append((now - stamp) * 1000)
        if self.window and self.window[0] <= stamp <= self.window[1]:
            self.in_window += 1
            if self.in_window >= self.wanted:
                self.complete.set()

    def watch(self, start: float, end: float, wanted: int) -> None:
        """From now on, count deliveries stamped inside [start, end]."""
        self.window, self.wanted = (start, end), wanted
        self.in_window = sum(start <= s <= end for s in self.stamps)
        if self.in_window >= wanted:
            self.complete.set()

    def window_latencies(self) -> array[float]:
        assert self.window is not None
        start, end = self.window
        return array(
            "f",
            (
                lat
                for s, lat in zip(self.stamps, self.latencies, strict=True)
                if start <= s <= end
            ),
        )


class LeanConsole(asyncio.Protocol):
    """A minimal RFC 6455 client: handshake, unmasked server frames, text
    messages to the tally, pong and close replies; nothing else."""

    def __init__(self, request: bytes, accept: bytes, tally: Tally) -> None:
        self.request, self.accept, self.tally = request, accept, tally
        self.buffer = bytearray()
        self.fragments = bytearray()
        self.upgraded = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.tally.closed += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before ready"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.upgraded or self._handshake():
            self._frames(time.time())

    def _handshake(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buffer[:end])
        del self.buffer[: end + 4]
        if b" 101 " not in head.split(b"\r\n", 1)[0] or self.accept not in head:
            self._fail(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            return False
        self.upgraded = True
        if not self.tally.first_frame:
            self.ready.set_result(None)
        return True

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))
        assert self.transport is not None
        self.transport.close()

    def _frames(self, now: float) -> None:
        buf = self.buffer
        while len(buf) >= 2:
            length, start = buf[1] & 0x7F, 2
            if length == 126:
                length, start = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                length, start = int.from_bytes(buf[2:10], "big"), 10
            if buf[1] & 0x80 or len(buf) < start + length:
                # Servers never mask (RFC 6455 5.1); otherwise: incomplete.
                return
            self._frame(buf[0], bytes(buf[start : start + length]), now)
            del buf[: start + length]

    def _frame(self, head: int, payload: bytes, now: float) -> None:
        opcode, fin = head & 0x0F, head & 0x80
        if opcode in (0, 1, 2):
            if not fin:
                self.fragments += payload
                return
            if self.fragments:
                payload = bytes(self.fragments) + payload
                self.fragments.clear()
            self.tally.message(payload, now)
            if not self.ready.done():
                self.ready.set_result(None)
        elif opcode == 0x9:
            self.send(0xA, payload)
        elif opcode == 0x8:
            self.send(0x8, payload[:2])
            assert self.transport is not None
            self.transport.close()

    def send(self, opcode: int, payload: bytes) -> None:
        """A control frame (payload < 126 bytes); clients must mask."""
        assert self.transport is not None and len(payload) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.transport.write(
            bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked
        )

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.send(0x8, (1000).to_bytes(2, "big"))
            self.transport.close()


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str
    headers: tuple[tuple[str, str], ...]
    first_frame: bool  # the console's snapshot: it has joined the feed


def handshake(target: Target) -> tuple[bytes, bytes]:
    """The upgrade request and the Sec-WebSocket-Accept it must get back."""
    key = base64.b64encode(os.urandom(16))
    lines = [
        f"GET {target.path} HTTP/1.1",
        f"Host: {target.host}:{target.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in target.headers),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return request, base64.b64encode(hashlib.sha1(key + GUID).digest())


async def open_console(
    target: Target, tally: Tally, gate: asyncio.Semaphore
) -> LeanConsole:
    request, accept = handshake(target)
    loop = asyncio.get_running_loop()
    async with gate, asyncio.timeout(30):
        _, console = await loop.create_connection(
            lambda: LeanConsole(request, accept, tally), target.host, target.port
        )
        await console.ready
    return console


async def pipe_recv(link: Connection, within: float) -> Any:
    """A bounded wait for the next message on a pipe, off the event loop."""

    def wait() -> Any:
        if not link.poll(within):
            raise TimeoutError(f"no message on the pipe within {within} s")
        return link.recv()

    return await asyncio.to_thread(wait)


async def client_session(link: Connection, target: Target, count: int) -> None:
    tally = Tally(first_frame=target.first_frame)
    gate = asyncio.Semaphore(CONNECTING)
    opened = await asyncio.gather(
        *(open_console(target, tally, gate) for _ in range(count)),
        return_exceptions=True,
    )
    consoles = [c for c in opened if isinstance(c, LeanConsole)]
    failures = sorted({repr(c) for c in opened if not isinstance(c, LeanConsole)})
    link.send(("ready", len(consoles), failures[:3]))
    try:
        await report(link, tally, len(consoles))
    finally:
        for console in consoles:
            console.close()


async def report(link: Connection, tally: Tally, connected: int) -> None:
    """mark (window starts) -> finish (window ended) -> wait for the
    window's deliveries (bounded by DRAIN_S) -> send the result."""
    assert (await pipe_recv(link, BUDGET_S))[0] == "mark"
    cpu, wall = time.process_time(), time.monotonic()
    _, start, end, per_console = await pipe_recv(link, BUDGET_S)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    tally.watch(start, end, per_console * connected)
    with suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_S):
            await tally.complete.wait()
    link.send(
        {
            "connected": connected,
            "closed": tally.closed,
            "snapshots": tally.snapshots,
            "latencies": tally.window_latencies().tobytes(),
            "update_frames": tally.update_frames,
            "update_bytes": tally.update_bytes,
            "sample": tally.sample,
            "cpu_s": cpu,
            "wall_s": wall,
        }
    )


def client_main(link: Connection, target: Target, count: int) -> None:
    """Entry point of a client process."""
    asyncio.run(client_session(link, target, count))
    link.close()


# --- pacing and the floor server (its own process, so its CPU is its own) ---


def stamp() -> str:
    """Now in the product's `updatedAt` format: UTC, milliseconds, Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def next_millisecond() -> float:
    """A window start on a millisecond boundary, strictly after now: stamps
    are truncated to the millisecond, so everything stamped before this
    call sorts before it and everything sent after it does not."""
    return (math.floor(time.time() * 1000) + 1) / 1000


async def paced(
    act: Callable[[], Coroutine[Any, Any, bool]],
    seconds: float,
    start: float | None = None,
) -> int:
    """Start act() RATE times a second for `seconds` from wall-clock `start`
    (sleeping only to pace), wait for all of them, count the successes."""
    loop = asyncio.get_running_loop()
    begin = loop.time() + (0.0 if start is None else start - time.time())
    tasks: list[asyncio.Task[bool]] = []
    for i in range(round(RATE * seconds)):
        delay = begin + i / RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(act()))
    return sum(await asyncio.gather(*tasks))


async def floor_broadcast(
    link: Connection, listeners: set[ServerConnection], template: str
) -> None:
    """Warm-up, then the window: one frame per tick to every listener."""
    value = re.search(r'"updatedAt":\s*"([^"]+)"', template)
    assert value is not None
    prefix, suffix = template[: value.start(1)], template[value.end(1) :]

    async def send() -> bool:
        websockets.broadcast(listeners, prefix + stamp() + suffix)
        return True

    await paced(send, WARMUP_S)
    start = next_millisecond()
    link.send(("window", start))
    cpu = time.process_time()
    sent = await paced(send, WINDOW_S, start)
    # process_time() is this process's utime + stime: what /proc/<pid>/stat
    # gives for `manage.py serve`.
    link.send(("done", time.time(), sent, time.process_time() - cpu))


async def floor_session(link: Connection) -> None:
    listeners: set[ServerConnection] = set()

    # A client sees its handshake complete just before the handler runs;
    # the warm-up, not a sleep, covers that gap.
    async def handler(ws: ServerConnection) -> None:
        listeners.add(ws)
        try:
            await ws.wait_closed()
        finally:
            listeners.discard(ws)

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        link.send(server.sockets[0].getsockname()[1])
        while (command := await pipe_recv(link, BUDGET_S))[0] == "run":
            await floor_broadcast(link, listeners, command[1])


def floor_main(link: Connection) -> None:
    """Entry point of the floor server's process."""
    asyncio.run(floor_session(link))
    link.close()
