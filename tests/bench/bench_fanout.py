"""Fan-out: N supervisor consoles on ONE `manage.py serve` process, beside a
floor measured in the same run: a bare `websockets` server broadcasting
frames of the same size, at the same rate, to the same N lean clients.

The call floor is paced from outside, through the embedded RingCentral's
control API (phone hold/unhold on answered calls): the benchmark sees only
the product's wire protocol, so it runs unchanged whatever the feed's
internals are. Per N: updates sent in the window, deliveries expected
(updates x N) and received, latency (receive time - the call's `updatedAt`;
the floor embeds its send time in the same field and format), the server
process's CPU over the window (/proc/<pid>/stat) and the load clients' own
CPU. Clients are a raw asyncio RFC 6455 protocol (frame headers and one
regex per frame) spread over child processes, as docs/performance.md 8
advises, so they are not the bottleneck. Prints one JSON line per N.

Reading the figures: a delivery is one update to one console, counted by
each `updatedAt` in a non-snapshot frame (so coalesced frames count per
update); loss = not received within DRAIN_S of the window's end; latency
percentiles are over the deliveries received. Switchboard's latency starts
at the embedded RingCentral's event time, so it includes the worker's
share; its server CPU is the whole serve process (simulator and worker
too). CPU figures are % of one core; a client process near 100 % means
the client, not the server, limited the run.
Run: .venv/bin/pytest -m bench -q -s tests/bench/bench_fanout.py
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
from array import array
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.lean_clients import (
    BUDGET_S,
    DRAIN_S,
    RATE,
    WARMUP_S,
    WINDOW_S,
    Target,
    client_main,
    floor_main,
    next_millisecond,
    paced,
    pipe_recv,
    stamp,
)
from tests.support.served import ServedApp, login_cookie, start_served_app

pytestmark = pytest.mark.bench

CLIENTS = (100, 500, 1000)
PROCESSES = 2  # client processes: one per core of the target machine
CALLS = 10  # one per simulated agent (ext 101-110)
# A higher N runs only while the previous one has not collapsed.
COLLAPSED_LOSS_PCT = 5.0
COLLAPSED_P99_MS = 1000.0


# --- the parent: processes, the call floor, the figures ---------------------


@contextmanager
def processes(
    main: Callable[..., None], args: list[tuple[Any, ...]]
) -> Iterator[list[Connection]]:
    """One spawned child per args tuple, each with a pipe; joined (bounded)
    and, if stuck, terminated on the way out."""
    context = multiprocessing.get_context("spawn")
    links: list[Connection] = []
    children = []
    try:
        for extra in args:
            ours, theirs = context.Pipe()
            child = context.Process(target=main, args=(theirs, *extra), daemon=True)
            child.start()
            theirs.close()
            links.append(ours)
            children.append(child)
        yield links
    finally:
        for link in links:
            link.close()  # a child still waiting on its pipe gets EOF
        for child in children:
            child.join(15)
            if child.is_alive():
                child.terminate()
                child.join(5)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all threads (/proc/<pid>/stat 14, 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Window:
    start: float  # wall clock, a millisecond boundary
    end: float
    sent: int  # updates (frames) produced in the window
    server_cpu_s: float


@dataclass
class Phase:
    clients: int
    connected: int
    connect_s: float  # spawn the client processes, connect, first frames
    connect_errors: list[str]  # a few distinct reasons, if any failed
    window: Window
    results: list[dict[str, Any]]


Mark = Callable[[], None]


async def measure(
    target: Target, clients: int, drive: Callable[[Mark], Awaitable[Window]]
) -> Phase:
    """Connect the lean clients, let `drive` run warm-up and window (it calls
    mark() as the window starts), then collect what the clients got."""
    shares = [
        clients // PROCESSES + (i < clients % PROCESSES) for i in range(PROCESSES)
    ]
    began = time.monotonic()
    with processes(client_main, [(target, share) for share in shares]) as links:
        ready = await asyncio.gather(*(pipe_recv(link, 120) for link in links))
        connected = sum(r[1] for r in ready)
        connect_s = time.monotonic() - began
        assert connected, f"no client could connect: {[r[2] for r in ready]}"

        def mark() -> None:
            for link in links:
                link.send(("mark",))

        window = await drive(mark)
        for link in links:
            # Bounds widened by 0.1 ms: stamps are parsed as floats.
            link.send(("finish", window.start - 1e-4, window.end + 1e-4, window.sent))
        results = await asyncio.gather(
            *(pipe_recv(link, DRAIN_S + 30) for link in links)
        )
    errors = sorted({error for r in ready for error in r[2]})
    return Phase(clients, connected, connect_s, errors[:3], window, list(results))


@dataclass
class HoldToggler:
    """Phone hold, then unhold, on each answered call in turn: one
    `call_updated` per action, and the same call only every len(calls)
    ticks, so even a feed that coalesces per call has nothing to merge."""

    sim: httpx.AsyncClient
    calls: list[str]
    done: int = 0

    async def __call__(self) -> bool:
        session_id = self.calls[self.done % len(self.calls)]
        holding = (self.done // len(self.calls)) % 2 == 0
        self.done += 1
        try:
            reply = await self.sim.post(
                f"/_sim/calls/{session_id}/phone",
                json={"action": "hold" if holding else "unhold"},
            )
        except httpx.HTTPError:
            return False
        return reply.status_code == 200


async def answered_calls(sim: httpx.AsyncClient) -> list[str]:
    """One answered, endless inbound call per agent."""
    ids = []
    for agent in range(101, 101 + CALLS):
        created = await sim.post(
            "/_sim/calls",
            json={
                "scenario": "inbound",
                "agent": str(agent),
                "auto_answer": False,
                "talk_seconds": None,
            },
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["telephonySessionId"])
    for session_id in ids:
        answered = await sim.post(
            f"/_sim/calls/{session_id}/phone", json={"action": "answer"}
        )
        assert answered.status_code == 200, answered.text
    return ids


async def drive_switchboard(pid: int, toggle: HoldToggler, mark: Mark) -> Window:
    # paced() waits for every warm-up action's reply: all warm-up events
    # are stamped before the window starts.
    await paced(toggle, WARMUP_S)
    start = next_millisecond()
    mark()
    cpu = cpu_seconds(pid)
    sent = await paced(toggle, WINDOW_S, start)
    return Window(start, time.time(), sent, cpu_seconds(pid) - cpu)


async def drive_floor(link: Connection, template: str, mark: Mark) -> Window:
    link.send(("run", template))
    _, start = await pipe_recv(link, 60)
    mark()
    _, end, sent, cpu = await pipe_recv(link, 60)
    return Window(start, end, sent, cpu)


def template_frame(phase: Phase) -> str:
    """A frame Switchboard sent with exactly one update, for the floor to
    send in the same size; a synthetic one of the 607 bytes of docs/performance.md 2
    if none was seen."""
    for result in phase.results:
        if result["sample"]:
            return bytes(result["sample"]).decode()
    frame = '{"type":"call_updated","seq":1,"call":{"updatedAt":"%s","pad":"%s"}}'
    return frame % (stamp(), "x" * (607 - len(frame % (stamp(), ""))))


def percentile(ordered: array[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 2)


def figures(phase: Phase, frame_bytes: int) -> dict[str, Any]:
    latencies = array("f")
    for result in phase.results:
        latencies.frombytes(result["latencies"])
    ordered = array("f", sorted(latencies))
    expected = phase.window.sent * phase.clients
    seconds = phase.window.end - phase.window.start
    client_cpu = [100 * r["cpu_s"] / r["wall_s"] for r in phase.results]
    return {
        "connected": phase.connected,
        "connect_s": round(phase.connect_s, 2),
        "connect_errors": phase.connect_errors,
        "updates_sent": phase.window.sent,
        "updates_per_s": round(phase.window.sent / seconds, 2),
        "deliveries_expected": expected,
        "deliveries_received": len(latencies),
        "loss": expected - len(latencies),
        "loss_pct": round(100 * (expected - len(latencies)) / max(expected, 1), 2),
        "latency_ms": {
            "p50": percentile(ordered, 0.5),
            "p99": percentile(ordered, 0.99),
            "max": percentile(ordered, 1.0),
        },
        "server_cpu_pct": round(100 * phase.window.server_cpu_s / seconds, 1),
        "client_cpu_pct_total": round(sum(client_cpu), 1),
        "client_cpu_pct_max_process": round(max(client_cpu), 1),
        "frame_bytes": frame_bytes,
        "snapshots": sum(r["snapshots"] for r in phase.results),
        "closed_by_server": sum(r["closed"] for r in phase.results),
    }


def mean_frame_bytes(phase: Phase) -> int:
    frames: int = sum(r["update_frames"] for r in phase.results)
    size: int = sum(r["update_bytes"] for r in phase.results)
    return size // max(frames, 1)


def ratio(ours: float | None, floor: float | None) -> float | None:
    if ours is None or floor is None:
        return None
    return round(ours / max(floor, 0.01), 1)


def collapse(switchboard: dict[str, Any]) -> str | None:
    """Why a higher N is not worth running (it would only time out)."""
    p99 = switchboard["latency_ms"]["p99"]
    if switchboard["loss_pct"] > COLLAPSED_LOSS_PCT:
        return f"loss {switchboard['loss_pct']} % at the previous N"
    if p99 is None or p99 > COLLAPSED_P99_MS:
        return f"p99 {p99} ms at the previous N"
    return None


def console_target(app: ServedApp, cookie: str) -> Target:
    """Every console reuses one login's cookie, as tabs of one browser do."""
    address = urlsplit(app.url)
    assert address.hostname and address.port
    return Target(
        address.hostname,
        address.port,
        "/ws/console/",
        (("Origin", app.url), ("Cookie", cookie)),
        first_frame=True,
    )


@dataclass
class Bench:
    pid: int  # of `manage.py serve`
    console: Target
    toggle: HoldToggler
    floor: Connection  # the floor server process's pipe
    bare: Target


async def one_n(bench: Bench, n: int) -> dict[str, Any]:
    ours = await measure(
        bench.console,
        n,
        lambda mark: drive_switchboard(bench.pid, bench.toggle, mark),
    )
    template = template_frame(ours)
    base = await measure(
        bench.bare, n, lambda mark: drive_floor(bench.floor, template, mark)
    )
    a, b = figures(ours, mean_frame_bytes(ours)), figures(base, len(template))
    return {
        "switchboard": a,
        "floor_bare_websockets": b,
        "ratio": {
            "p50": ratio(a["latency_ms"]["p50"], b["latency_ms"]["p50"]),
            "p99": ratio(a["latency_ms"]["p99"], b["latency_ms"]["p99"]),
            "server_cpu": ratio(a["server_cpu_pct"], b["server_cpu_pct"]),
        },
    }


async def ladder(bench: Bench) -> None:
    """Each N in turn; one JSON line each (a skipped N says why)."""
    skipped: str | None = None
    for n in CLIENTS:
        line: dict[str, Any] = {
            "bench": "console_fanout",
            "clients": n,
            "rate_per_s": RATE,
            "window_s": WINDOW_S,
        }
        if skipped:
            print(json.dumps({**line, "skipped": skipped}))
            continue
        line.update(await one_n(bench, n))
        print(json.dumps(line), flush=True)
        # Sanity, not a target: both paths delivered something.
        assert line["switchboard"]["deliveries_received"] > 0
        assert line["floor_bare_websockets"]["deliveries_received"] > 0
        skipped = collapse(line["switchboard"])


async def test_console_fanout(tmp_path: Path) -> None:
    app = start_served_app(tmp_path)
    try:
        cookie = login_cookie(app.url, app.username, app.password)
        with processes(floor_main, [()]) as (floor,):
            port = await pipe_recv(floor, 60)
            async with (
                asyncio.timeout(BUDGET_S),
                httpx.AsyncClient(base_url=app.simulator_url, timeout=10) as sim,
            ):
                toggle = HoldToggler(sim, await answered_calls(sim))
                bare = Target("127.0.0.1", port, "/", (), first_frame=False)
                bench = Bench(
                    app.process.pid, console_target(app, cookie), toggle, floor, bare
                )
                await ladder(bench)
            floor.send(("stop",))
    finally:
        app.stop()
