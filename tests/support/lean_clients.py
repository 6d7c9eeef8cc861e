"""The peers of bench_fanout: the lean console (run in child processes, a
raw asyncio RFC 6455 protocol that reads frame headers and a few regexes
per frame, so it is never the bottleneck) and the floor server (a bare
`websockets` broadcast in its own process, replaying frames the real feed
sent, at the times it sent them).

What a lean console checks, per frame of /ws/console/ (dashboard/protocol.py):

- snapshot parts: counted; the last one gives the console its `n`.
- delta `n`: must be the last one + 1 (else a gap: frames lost, the page
  would resync); its CRC-32 must equal every other console's for the same
  `epoch` and `n` (all consoles of one dashboard process get the same
  bytes; each process numbers its own frames and `epoch` names it, so
  consoles that nginx spread over several processes are compared per
  process); latency event -> console for each call in it (receive time -
  the call's `updated`, the simulator's event time, same host clock: this
  includes the coalescing window) and frame -> console (receive time -
  the frame's `time`, when the feed built it; the floor server stamps its
  send time there).
- a few `verifying` consoles per process also apply every frame to a copy
  of the floor, as the page does, for the final comparison with RingCentral's
  state (GET /_sim/state).
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import json
import os
import re
import time
import zlib
from array import array
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection, serve

CONNECTING = 25  # handshakes in flight per client process
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HEAD = re.compile(rb'^\{"type":"(\w+)","epoch":"([^"]*)","n":(\d+),"time":(\d+)')
PARTS = re.compile(rb'"part":(\d+),"parts":(\d+),"calls":\[')
UPDATED = re.compile(rb'"updated":"([^"]+)"')
VERIFYING = 2  # consoles per client process that keep the whole floor
BUDGET_S = 600.0  # a bound on any single wait for the parent


# --- the lean client (runs in child processes) ------------------------------


class StampParser:
    """`2026-01-01T10:00:00.000Z` -> epoch seconds. Caching the minute
    keeps the per-call cost at a float() instead of a datetime parse."""

    def __init__(self) -> None:
        self._minutes: dict[bytes, float] = {}

    def __call__(self, raw: bytes) -> float:
        if len(raw) == 24 and raw.endswith(b"Z"):
            base = self._minutes.get(raw[:16])
            if base is None:
                base = datetime.fromisoformat(raw[:16].decode() + "+00:00").timestamp()
                self._minutes[raw[:16]] = base
            return base + float(raw[17:23])
        return datetime.fromisoformat(raw.decode()).timestamp()


@dataclass
class Tally:
    """What one client process received, over all its connections."""

    snapshot_first: bool  # ready = whole snapshot received (the console)
    parse: StampParser = field(default_factory=StampParser)
    measuring: bool = False
    event_ms: array[float] = field(default_factory=lambda: array("f"))
    frame_ms: array[float] = field(default_factory=lambda: array("f"))
    # (epoch, delta n) -> CRC-32: each dashboard process numbers its own.
    crcs: dict[tuple[str, int], int] = field(default_factory=dict)
    crc_mismatches: int = 0
    deltas: int = 0  # delta frames received while measuring
    delta_bytes: int = 0
    # (receive time, frame): each frame once, as its first console got it.
    record: list[tuple[float, bytes]] | None = None

    def delta(
        self, payload: bytearray, epoch: str, n: int, built_ms: int, now: float
    ) -> None:
        crc = zlib.crc32(payload)
        known = self.crcs.get((epoch, n))
        first = known is None
        if first:
            self.crcs[epoch, n] = crc
        elif known != crc:
            self.crc_mismatches += 1
        if not self.measuring:
            return
        self.deltas += 1
        self.delta_bytes += len(payload)
        self.frame_ms.append(now * 1000 - built_ms)
        parse = self.parse
        for raw in UPDATED.findall(payload):
            self.event_ms.append((now - parse(raw)) * 1000)
        if self.record is not None and first:
            # Not a copy per console: 500 consoles' frames over a minute
            # would be a gigabyte, copied while measuring.
            self.record.append((now, bytes(payload)))


class Floor:
    """A verifying console's copy of the floor, applied as the page does
    (static/dashboard/live.js)."""

    def __init__(self) -> None:
        self.calls: dict[str, dict[str, Any]] = {}
        self._parts: dict[str, dict[str, Any]] = {}
        self.n = -1
        self.errors = 0
        self.latest = ""  # how far the events seen have got (ISO text sorts)

    def apply(self, payload: bytes | bytearray) -> None:
        frame = json.loads(payload)
        kind = frame.get("type")
        if kind == "snapshot":
            if frame["part"] == 1:
                self._parts = {}
            self._parts.update((c["id"], c) for c in frame["calls"])
            if frame["part"] == frame["parts"]:
                self.calls, self._parts, self.n = self._parts, {}, frame["n"]
        elif kind == "delta" and self.n >= 0:
            if frame["n"] <= self.n:
                return
            if frame["n"] != self.n + 1:
                self.errors += 1
            self.n = frame["n"]
            self.calls.update((c["id"], c) for c in frame["calls"])
            for call_id in frame["ended"]:
                self.calls.pop(call_id, None)
            # The median: a call re-read over REST is stamped with the time
            # of the read, not of an event, and must not count as progress.
            stamps = sorted(c["updated"] for c in frame["calls"])
            if stamps:
                self.latest = max(self.latest, stamps[len(stamps) // 2])


class LeanConsole(asyncio.Protocol):
    """A minimal RFC 6455 client: handshake, unmasked server frames, text
    messages checked as the module says, pong and close replies."""

    def __init__(
        self, request: bytes, accept: bytes, tally: Tally, verify: bool
    ) -> None:
        self.request, self.accept, self.tally = request, accept, tally
        self.floor = Floor() if verify else None
        self.buffer = bytearray()
        self.fragments = bytearray()
        self.upgraded = False
        self.closed = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.n = -1  # the last frame applied (-1: no snapshot yet)
        self.first_n = -1  # the n the console started from
        self.epoch = ""  # the dashboard process it landed on (its frames' epoch)
        self.snapshots = 0  # complete snapshots (more than 1: resynced)
        self.gaps = 0  # frames missing between deltas
        self.stale = 0  # deltas already covered (n <= last)
        self.changed: asyncio.Event | None = None  # set on each delta

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
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
        if not self.tally.snapshot_first:
            self.ready.set_result(None)
        return True

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))
        assert self.transport is not None
        self.transport.close()

    def _frames(self, now: float) -> None:
        buf, at = self.buffer, 0
        size = len(buf)
        while size - at >= 2:
            length, start = buf[at + 1] & 0x7F, at + 2
            if length == 126:
                length, start = int.from_bytes(buf[at + 2 : at + 4], "big"), at + 4
            elif length == 127:
                length, start = int.from_bytes(buf[at + 2 : at + 10], "big"), at + 10
            # Servers never mask (RFC 6455 5.1); otherwise: incomplete.
            if buf[at + 1] & 0x80 or size < start + length:
                break
            self._frame(buf[at], buf[start : start + length], now)
            at = start + length
        if at:
            del buf[:at]

    def _frame(self, head: int, payload: bytearray, now: float) -> None:
        opcode, fin = head & 0x0F, head & 0x80
        if opcode in (0, 1, 2):
            if not fin:
                self.fragments += payload
                return
            if self.fragments:
                payload = self.fragments + payload
                self.fragments = bytearray()
            self._message(payload, now)
        elif opcode == 0x9:
            self.send(0xA, bytes(payload))
        elif opcode == 0x8:
            self.send(0x8, bytes(payload[:2]))
            assert self.transport is not None
            self.transport.close()

    def _message(self, payload: bytearray, now: float) -> None:
        if self.floor is not None:
            self.floor.apply(payload)
        head = HEAD.match(payload)
        if head is None:  # worker_status, command replies: not the floor's
            return
        n = int(head[3])
        if head[1] == b"delta":
            if self.n < 0 and not self.tally.snapshot_first:
                self.n = self.first_n = n - 1  # the floor server: no snapshot
                self.epoch = head[2].decode()
            if self.n < 0:
                return  # before the snapshot: superseded by it
            if n <= self.n:
                self.stale += 1
                return
            self.gaps += n - self.n - 1
            self.n = n
            self.tally.delta(payload, self.epoch, n, int(head[4]), now)
            if self.changed is not None:
                self.changed.set()
        elif head[1] == b"snapshot":
            parts = PARTS.search(payload)
            if parts is not None and parts[1] == parts[2]:
                self.snapshots += 1
                self.n = n
                self.epoch = head[2].decode()
                if self.first_n < 0:
                    self.first_n = n
                if not self.ready.done():
                    self.ready.set_result(None)

    def send(self, opcode: int, payload: bytes) -> None:
        """A control frame (payload < 126 bytes); clients must mask."""
        assert self.transport is not None and len(payload) < 126
        if self.transport.is_closing():
            return
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
    snapshot_first: bool  # a console: ready once its snapshot is in


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
    target: Target, tally: Tally, gate: asyncio.Semaphore, verify: bool
) -> LeanConsole:
    request, accept = handshake(target)
    loop = asyncio.get_running_loop()
    async with gate, asyncio.timeout(120):
        _, console = await loop.create_connection(
            lambda: LeanConsole(request, accept, tally, verify),
            target.host,
            target.port,
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


def floor_summary(floor: Floor) -> dict[str, Any]:
    """A verifying console's floor: each call's parties and their status,
    and when each call started."""
    return {
        "n": floor.n,
        "errors": floor.errors,
        "latest": floor.latest,
        "starts": {call_id: call.get("start") for call_id, call in floor.calls.items()},
        "calls": {
            call_id: {
                p["id"]: p.get("status")
                for p in (
                    call.get("agent"),
                    call.get("customer"),
                    *call.get("others", []),
                )
                if p and "id" in p  # an id-less customer: its leg is not known
            }
            for call_id, call in floor.calls.items()
        },
    }


async def client_session(
    link: Connection, target: Target, count: int, record: bool
) -> None:
    """Connect `count` consoles, then answer the parent's commands:
    mark (the window starts), finish (it ended: report the max n seen),
    ends (the max n seen per epoch: consoles on several dashboard
    processes), drain n (wait until every console has n, bounded; report
    the figures; n an int, or per epoch as `ends` gives it),
    floor (the verifying consoles' floors), status (how the consoles are
    doing so far: a long run asks now and then, and so never leaves the
    pipe quiet for BUDGET_S), close."""
    tally = Tally(snapshot_first=target.snapshot_first)
    gate = asyncio.Semaphore(CONNECTING)
    began = time.monotonic()
    opened: list[Any] = []
    # In two halves: the parent reads the server's memory in between.
    for i, half in enumerate((range(count // 2), range(count // 2, count))):
        if i:
            assert (await pipe_recv(link, BUDGET_S))[0] == "more"
        opened += await asyncio.gather(
            *(open_console(target, tally, gate, j < VERIFYING) for j in half),
            return_exceptions=True,
        )
        if not i:
            link.send(("half", sum(isinstance(c, LeanConsole) for c in opened)))
    consoles = [c for c in opened if isinstance(c, LeanConsole)]
    failures = sorted({repr(c) for c in opened if not isinstance(c, LeanConsole)})
    link.send(("ready", len(consoles), failures[:3], time.monotonic() - began))
    cpu = wall = 0.0
    try:
        while True:
            command = await pipe_recv(link, BUDGET_S)
            if command[0] == "mark":
                tally.measuring = True
                tally.record = [] if record else None
                cpu, wall = time.process_time(), time.monotonic()
            elif command[0] == "finish":
                tally.measuring = False
                cpu, wall = time.process_time() - cpu, time.monotonic() - wall
                link.send(max((c.n for c in consoles), default=-1))
            elif command[0] == "ends":
                link.send(ends(consoles))
            elif command[0] == "drain":
                await drain(consoles, command[1], command[2])
                link.send(figures(tally, consoles, cpu, wall, command[1]))
            elif command[0] == "floor":
                floors = [c.floor for c in consoles if c.floor is not None]
                await caught_up(floors, command[1], command[2])
                link.send([floor_summary(floor) for floor in floors])
            elif command[0] == "status":
                link.send(status(consoles))
            else:
                break
    finally:
        for console in consoles:
            console.close()


def status(consoles: list[LeanConsole]) -> dict[str, int]:
    """The consoles so far: open, lost frames, resynced, the last n seen."""
    return {
        "open": sum(not c.closed for c in consoles),
        "gaps": sum(c.gaps for c in consoles),
        "resynced": sum(c.snapshots > 1 for c in consoles),
        "n": max((c.n for c in consoles), default=-1),
    }


async def caught_up(floors: list[Floor], since: str, within: float) -> None:
    """Wait (bounded) until every floor has had a delta whose calls were
    mostly stamped `since` or later: events reach a console in order, so
    it has (nearly) every one before it."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(floor.latest >= since for floor in floors):
            return
        await asyncio.sleep(0.05)


def ends(consoles: list[LeanConsole]) -> dict[str, int]:
    """The last n seen, per epoch (each dashboard process numbers its own)."""
    last: dict[str, int] = {}
    for c in consoles:
        last[c.epoch] = max(last.get(c.epoch, -1), c.n)
    return last


FinalN = int | dict[str, int]  # one n for every console, or one per epoch


def goal(final: FinalN, console: LeanConsole) -> int:
    return final if isinstance(final, int) else final.get(console.epoch, -1)


async def drain(consoles: list[LeanConsole], final: FinalN, within: float) -> None:
    """Wait (bounded) until every open console has frame `final` (its
    epoch's, given per epoch)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(c.n >= goal(final, c) or c.closed for c in consoles):
            return
        await asyncio.sleep(0.05)


def figures(
    tally: Tally, consoles: list[LeanConsole], cpu: float, wall: float, final: FinalN
) -> dict[str, Any]:
    return {
        "connected": len(consoles),
        "closed": sum(c.closed for c in consoles),
        "resynced": sum(c.snapshots > 1 for c in consoles),
        "gaps": sum(c.gaps for c in consoles),
        "stale": sum(c.stale for c in consoles),
        # Frames not received by the end of the drain.
        "missing": sum(max(0, goal(final, c) - c.n) for c in consoles if not c.closed),
        "deltas": tally.deltas,
        "delta_bytes": tally.delta_bytes,
        "crcs": tally.crcs,
        "crc_mismatches": tally.crc_mismatches,
        "event_ms": tally.event_ms.tobytes(),
        "frame_ms": tally.frame_ms.tobytes(),
        "record": _one_console(tally.record),
        "cpu_s": cpu,
        "wall_s": wall,
    }


def _one_console(record: list[tuple[float, bytes]] | None) -> list[tuple[float, bytes]]:
    """The recording of ONE console (every console of a dashboard process
    got the same frames): the first frame's epoch only."""
    if not record:
        return []
    first = HEAD.match(record[0][1])
    epoch = first[2] if first else None
    seen: set[bytes] = set()
    out = []
    for at, payload in record:
        n = HEAD.match(payload)
        if n is not None and n[2] != epoch:
            continue  # another dashboard process's numbering
        key = n[3] if n else payload
        if key not in seen:
            seen.add(key)
            out.append((at, payload))
    return out


def client_main(link: Connection, target: Target, count: int, record: bool) -> None:
    """Entry point of a client process. Without the cyclic collector: its
    full passes over 500 consoles' objects took up to 0.5 s, counted as
    the server's latency; what a client allocates is freed by reference
    counting, and the process lives for one measurement."""
    gc.disable()
    asyncio.run(client_session(link, target, count, record))
    link.close()


# --- the floor server (its own process, so its CPU is its own) --------------


def restamp(payload: bytes, n: int) -> str:
    """A recorded delta with the floor's own `n` and its send time."""
    head = HEAD.match(payload)
    assert head is not None
    rest = payload[head.end() :].decode()
    now = int(time.time() * 1000)
    return f'{{"type":"delta","epoch":"floor","n":{n},"time":{now}{rest}'


async def replay(
    listeners: set[ServerConnection],
    frames: list[tuple[float, bytes]],
    seconds: float,
    n: int,
) -> tuple[int, int]:
    """Broadcast the recorded frames at their recorded offsets (looping)
    for `seconds`; return the frames sent and the last n."""
    loop = asyncio.get_running_loop()
    begin, sent = loop.time(), 0
    span = frames[-1][0] - frames[0][0] + 0.1
    while True:
        for at, payload in frames:
            due = begin + (sent // len(frames)) * span + at - frames[0][0]
            if due - begin >= seconds:
                return sent, n
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
            websockets.broadcast(listeners, restamp(payload, n))
            sent += 1


async def floor_session(link: Connection) -> None:
    listeners: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        listeners.add(ws)
        try:
            await ws.wait_closed()
        finally:
            listeners.discard(ws)

    n = 0
    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        link.send(server.sockets[0].getsockname()[1])
        while (command := await pipe_recv(link, BUDGET_S))[0] == "run":
            _, frames, warmup, window = command
            _, n = await replay(listeners, frames, warmup, n)
            link.send(("window", time.time()))
            cpu = time.process_time()
            sent, n = await replay(listeners, frames, window, n)
            # process_time() is this process's utime + stime: what
            # /proc/<pid>/stat gives for `manage.py serve`.
            link.send(("done", time.time(), sent, n, time.process_time() - cpu))
            with suppress(Exception):
                await asyncio.sleep(0)


def floor_main(link: Connection) -> None:
    """Entry point of the floor server's process."""
    asyncio.run(floor_session(link))
    link.close()
