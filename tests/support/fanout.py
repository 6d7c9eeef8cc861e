"""Lean consoles against a served app, for the benchmarks and the soak:
their child processes, the server's CPU and memory from /proc, its
/metrics, and the final check of the consoles' floors against the
embedded RingCentral's truth (`GET /_sim/state`, with the floor paused);
for the benchmarks also the same-run floor (the bare `websockets` server
replaying the frames the feed sent to as many lean clients) and the
figures of a measurement, printed beside the floor's.

The consoles themselves are `lean_clients.client_main`; the app is
`served.start_split_app` (serve and the simulator in processes of their own)
or the scaled deployment (bench_cluster).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import time
from array import array
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.lean_clients import Target, client_main, floor_main, pipe_recv
from tests.support.served import METRICS_HEADERS, ServedApp

CATCH_UP_S = 30.0  # the final comparison waits this long at most
CLIENT_PROCESSES = 2  # lean client processes: one per core of the target machine


# --- processes, CPU and memory -----------------------------------------------


@contextmanager
def processes(
    main: Any, args: list[tuple[Any, ...]]
) -> Iterator[list[tuple[Connection, Any]]]:
    """One spawned child per args tuple, each with a pipe; joined (bounded)
    and, if stuck, terminated on the way out."""
    context = multiprocessing.get_context("spawn")
    children: list[tuple[Connection, Any]] = []
    try:
        for extra in args:
            ours, theirs = context.Pipe()
            child = context.Process(target=main, args=(theirs, *extra), daemon=True)
            child.start()
            theirs.close()
            children.append((ours, child))
        yield children
    finally:
        for link, _ in children:
            with_suppress(lambda link=link: link.send(("close",)))
            link.close()  # a child still waiting on its pipe gets EOF
        for _, child in children:
            child.join(15)
            if child.is_alive():
                child.terminate()
                child.join(5)


def with_suppress(fn: Any) -> None:
    with suppress(OSError, ValueError):
        fn()


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """utime + stime of a process (all threads), or of one of its threads."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def host_cpu() -> tuple[float, float, float]:
    """Busy, steal and total jiffies of the whole machine (/proc/stat)."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, fields[7], sum(fields)


def cpu_of(pids: Sequence[int]) -> float:
    """utime + stime of several processes, summed; one that has gone
    counts nothing (a run that loses a process says so elsewhere)."""
    total = 0.0
    for pid in pids:
        with suppress(FileNotFoundError, ProcessLookupError):
            total += cpu_seconds(pid)
    return total


async def settle(pids: Sequence[int], idle_pct: float, within: float = 30.0) -> None:
    """Until the server's CPU is back near what it is without consoles (the
    last phase's consoles leaving cost it a few seconds), bounded."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        cpu = cpu_of(pids)
        await asyncio.sleep(1.0)
        if 100 * (cpu_of(pids) - cpu) <= idle_pct + 15:
            return


async def cpu_without_consoles(pids: Sequence[int], seconds: float = 5.0) -> float:
    """The server's CPU with no console: the worker following the floor."""
    cpu, began = cpu_of(pids), time.monotonic()
    await asyncio.sleep(seconds)
    return round(100 * (cpu_of(pids) - cpu) / (time.monotonic() - began), 1)


# --- serve's /metrics ----------------------------------------------------------


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(match[1]) if match else float("nan")


async def serve_metrics(http: httpx.AsyncClient) -> str:
    return (await http.get("/metrics", headers=METRICS_HEADERS)).text


async def wait_for_worker(http: httpx.AsyncClient) -> float:
    """When the worker is subscribed (a second late: creationTime has
    whole seconds)."""
    async with asyncio.timeout(60):
        while True:  # polling another process: there is no event to await
            if metric(await serve_metrics(http), "switchboard_telephony_connected"):
                return time.time() + 1.0
            await asyncio.sleep(0.2)


async def wait_for_floor(
    http: httpx.AsyncClient, min_calls: int, within: float = 240
) -> int:
    """Until the worker follows `min_calls` live calls (bounded)."""
    async with asyncio.timeout(within):
        while True:
            live = metric(await serve_metrics(http), "switchboard_telephony_live_calls")
            if live >= min_calls:
                return int(live)
            await asyncio.sleep(1.0)


# --- the consoles --------------------------------------------------------------


def console_target(app: ServedApp | str, cookie: str) -> Target:
    """Every console reuses one login's cookie, as tabs of one browser do.
    `app`: a served app, or the site's URL (nginx's, in front of several
    dashboard processes)."""
    url = app if isinstance(app, str) else app.url
    address = urlsplit(url)
    assert address.hostname and address.port
    return Target(
        address.hostname,
        address.port,
        "/ws/console/",
        (("Origin", url), ("Cookie", cookie)),
        snapshot_first=True,
    )


@dataclass
class Connected:
    consoles: int
    errors: list[str]
    seconds: float
    rss_before_kb: int
    rss_half_kb: int  # with the first half of the consoles connected
    half: int
    rss_kb: int


async def connect_all(links: list[Connection], *pids: int) -> Connected:
    """Wait for the clients to connect, in two halves; the server's RSS
    before, between and after (each after a short settle). Several pids:
    their RSS summed (the dashboard processes behind nginx)."""

    def rss() -> int:
        return sum(rss_kb(pid) for pid in pids)

    before = rss()
    halves = await asyncio.gather(*(pipe_recv(link, 300) for link in links))
    await asyncio.sleep(0.5)
    rss_half = rss()
    for link in links:
        link.send(("more",))
    ready = await asyncio.gather(*(pipe_recv(link, 300) for link in links))
    await asyncio.sleep(0.5)
    connected = sum(r[1] for r in ready)
    errors = sorted({e for r in ready for e in r[2]})
    assert connected, f"no client could connect: {errors}"
    return Connected(
        connected,
        errors[:3],
        max(r[3] for r in ready),
        before,
        rss_half,
        sum(h[1] for h in halves),
        rss(),
    )


async def ask_all(
    links: list[Connection], command: tuple[Any, ...], within: float
) -> list[Any]:
    for link in links:
        link.send(command)
    return list(await asyncio.gather(*(pipe_recv(link, within) for link in links)))


def delta_loss(results: list[dict[str, Any]]) -> dict[str, int]:
    """What the consoles lost, from the clients' `drain` figures: frames
    skipped, missing at the end, resyncs, closed sockets, and frames whose
    bytes differed between consoles (CRC-32)."""
    crcs: dict[int, set[int]] = {}
    for r in results:
        for n, crc in r["crcs"].items():
            crcs.setdefault(n, set()).add(crc)
    return {
        "gaps": sum(r["gaps"] for r in results),
        "missing_after_drain": sum(r["missing"] for r in results),
        "resynced": sum(r["resynced"] for r in results),
        "closed": sum(r["closed"] for r in results),
        "frames_differing": sum(len(c) > 1 for c in crcs.values())
        + sum(r["crc_mismatches"] for r in results),
    }


# --- the final floor against RingCentral's ------------------------------------


async def pause_floor(sim: httpx.AsyncClient, paused: bool) -> bool:
    """Pause (or resume) the generated floor; False when this simulator has
    no /_sim/floor (404)."""
    response = await sim.post("/_sim/floor", json={"paused": paused})
    return response.is_success


async def sim_sessions(sim: httpx.AsyncClient) -> dict[str, Any]:
    sessions = (await sim.get("/_sim/state")).json()["sessions"]
    return {s["id"]: s for s in sessions}


async def floor_check(
    sim: httpx.AsyncClient,
    links: list[Connection],
    worker_since: float,
    older: set[str],
    catch_up: float = CATCH_UP_S,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The verifying consoles' floors against GET /_sim/state: read once,
    then the consoles' floors once each has an event stamped after that
    read (so it has every earlier one), then read again. Paused, the two
    reads are the same floor."""
    paused = await pause_floor(sim, True)
    try:
        if paused:
            await asyncio.sleep(2.0)  # what was under way reaches the consoles
        read_at = datetime.now(UTC).timestamp()
        before = await sim_sessions(sim)
        # A second's margin: a delta mixes calls from a short span of time.
        ahead = datetime.fromtimestamp(time.time() + 1.0, UTC)
        since = ahead.isoformat(timespec="milliseconds")[:-6] + "Z"
        if paused:
            since = ""  # nothing new is stamped while paused
        command = ("floor", since, catch_up)
        floors = [f for r in await ask_all(links, command, catch_up + 60) for f in r]
        after = await sim_sessions(sim)
    finally:
        if paused:
            await pause_floor(sim, False)
    check = compare_floors(before, after, floors, paused, worker_since, read_at, older)
    check["consoles_caught_up"] = all(f["latest"] >= since for f in floors)
    return floors, check


def compare_floors(
    before: dict[str, Any],
    after: dict[str, Any],
    floors: list[dict[str, Any]],
    paused: bool,
    worker_since: float,
    read_at: float,
    older_ids: set[str],
) -> dict[str, Any]:
    """Calls live in both reads must be on each console; each console's
    calls must be in one of the reads; calls that did not change between
    the reads must show each party's status as RingCentral has it. A call
    in neither read counts only if it began before the first (`read_at`):
    one that began later may have ended before the second read and the
    console not yet heard it.

    Calls that began before the worker subscribed are left out of the
    comparison: their first events went to no one, and until the worker's
    resync reaches them (paced by RingCentral's rate limits) its model
    may lack a party (see docs/benchmarks.md)."""
    older = {
        i
        for i, s in after.items()
        if datetime.fromisoformat(s["creationTime"]).timestamp() < worker_since
    } | (older_ids & after.keys())
    live_throughout = (before.keys() & after.keys()) - older
    unchanged = [i for i in live_throughout if before[i] == after[i]]
    missing = extra = extra_older = wrong = 0
    for floor in floors:
        calls = floor["calls"]
        missing += sum(1 for i in live_throughout if i not in calls)
        for call_id in calls:
            if call_id not in before and call_id not in after:
                start = floor["starts"].get(call_id) or ""
                began = datetime.fromisoformat(start).timestamp() if start else 0.0
                # (The worker may have missed an older call's first events,
                # so its start on the console can be later than its real one.)
                if call_id in older_ids or began < worker_since:
                    extra_older += 1
                elif began < read_at:
                    extra += 1
        for call_id in unchanged:
            shown = calls.get(call_id)
            if shown is None:
                continue
            truth = {p["id"]: p["status"]["code"] for p in before[call_id]["parties"]}
            live = {
                pid
                for pid, code in truth.items()
                if code not in ("Disconnected", "Gone")
            }
            if any(truth.get(pid) != code for pid, code in shown.items()) or (
                live - shown.keys()
            ):
                wrong += 1
    return {
        "method": "paused" if paused else "bracketed by two reads",
        "consoles": len(floors),
        "ringcentral_calls": len(after),
        "console_calls": [len(f["calls"]) for f in floors],
        "calls_compared": len(unchanged),
        "calls_older_than_the_worker": len(older),
        "missing": missing,
        "extra": extra,
        "extra_older_than_the_worker": extra_older,
        "wrong": wrong,
        "console_gaps": sum(f["errors"] for f in floors),
    }


# --- a measurement and its figures ----------------------------------------------


@dataclass
class Measured:
    clients: int
    connected: Connected
    seconds: float
    server_cpu_s: float
    server_main_cpu_s: float | None
    final_n: int
    results: list[dict[str, Any]]
    floors: list[dict[str, Any]]
    extra: dict[str, Any]


def shares(clients: int, processes: int = CLIENT_PROCESSES) -> list[int]:
    """`clients` consoles spread over the client processes."""
    return [clients // processes + (i < clients % processes) for i in range(processes)]


def host_figures(host: list[float]) -> dict[str, float]:
    """The machine's CPU over the window, % of all its cores (anything else
    running on it counts): near 100 % the run measured contention, not the
    server."""
    busy, steal, total = host
    return {
        "host_cpu_busy_pct": round(100 * busy / max(total, 1), 1),
        "host_cpu_steal_pct": round(100 * steal / max(total, 1), 1),
    }


def distribution(raw: list[bytes]) -> dict[str, Any]:
    values = array("f")
    for chunk in raw:
        values.frombytes(chunk)
    ordered = sorted(values)
    if not ordered:
        return {"samples": 0}

    def q(x: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * x))], 1)

    return {"samples": len(ordered), "p50": q(0.5), "p99": q(0.99), "max": q(1.0)}


def figures(m: Measured) -> dict[str, Any]:
    rs = m.results
    deltas = sum(r["deltas"] for r in rs)
    client_cpu = [100 * r["cpu_s"] / max(r["wall_s"], 1e-9) for r in rs]
    c = m.connected
    out: dict[str, Any] = {
        "connected": c.consoles,
        "connect_s": round(c.seconds, 2),
        "connect_errors": c.errors,
        "deltas_per_console_per_s": round(deltas / max(c.consoles, 1) / m.seconds, 2),
        "delta_bytes_mean": sum(r["delta_bytes"] for r in rs) // max(deltas, 1),
        "event_to_console_ms": distribution([r["event_ms"] for r in rs]),
        "frame_to_console_ms": distribution([r["frame_ms"] for r in rs]),
        "loss": delta_loss(rs),
        "server_cpu_pct": round(100 * m.server_cpu_s / m.seconds, 1),
        # The second half's consoles: what one more console costs.
        "rss_kb_per_console": round(
            (c.rss_kb - c.rss_half_kb) / max(c.consoles - c.half, 1), 1
        ),
        # Everything since before the first console, fixed costs included.
        "rss_kb_per_console_overall": round(
            (c.rss_kb - c.rss_before_kb) / max(c.consoles, 1), 1
        ),
        "rss_mb": round(c.rss_kb / 1024, 1),
        "client_cpu_pct_total": round(sum(client_cpu), 1),
        "client_cpu_pct_max_process": round(max(client_cpu), 1),
    }
    if m.server_main_cpu_s is not None:
        out["server_daphne_thread_cpu_pct"] = round(
            100 * m.server_main_cpu_s / m.seconds, 1
        )
    out.update(m.extra)
    return out


def ratio(ours: float | None, base: float | None) -> float | None:
    if ours is None or base is None:
        return None
    return round(ours / max(base, 0.01), 1)


def lost(f: dict[str, Any]) -> int:
    loss = f["loss"]
    check = f.get("final_floor", {})
    return (
        loss["gaps"]
        + loss["missing_after_drain"]
        + loss["resynced"]
        + loss["closed"]
        + loss["frames_differing"]
        + check.get("missing", 0)
        + check.get("extra", 0)
        + check.get("wrong", 0)
    )


# --- the floor: a bare websockets broadcast of the feed's frames -----------------


@dataclass
class FloorServer:
    """lean_clients.floor_main in a process of its own: its pipe, its pid,
    and where its (lean) clients connect."""

    link: Connection
    pid: int
    target: Target


@asynccontextmanager
async def floor_server() -> AsyncIterator[FloorServer]:
    with processes(floor_main, [()]) as ((link, child),):
        port = await pipe_recv(link, 60)
        target = Target("127.0.0.1", port, "/", (), snapshot_first=False)
        yield FloorServer(link, child.pid, target)


async def measure_floor(
    floor: FloorServer,
    clients: int,
    record: list[tuple[float, bytes]],
    *,
    warmup: float,
    window: float,
    drain: float,
    meanwhile: dict[str, Sequence[int]],
    record_first: bool = False,
) -> Measured:
    """The floor broadcasting `record` (the frames one console received,
    at the times it received them) to `clients` lean clients for `window`
    seconds after `warmup`; the figures of the floor server's process.
    `meanwhile`: processes whose CPU over the window is reported beside
    (`<name>_cpu_pct_meanwhile`: the app, still following its floor).
    `record_first`: the first client process records its frames too."""
    args = [
        (floor.target, share, record_first and i == 0)
        for i, share in enumerate(shares(clients))
    ]
    with processes(client_main, args) as children:
        links = [link for link, _ in children]
        connected = await connect_all(links, floor.pid)
        floor.link.send(("run", record, warmup, window))
        _, _start = await pipe_recv(floor.link, warmup + 120)
        host0 = host_cpu()
        others0 = {name: cpu_of(pids) for name, pids in meanwhile.items()}
        for link in links:
            link.send(("mark",))
        _, _end, sent, final_n, cpu = await pipe_recv(floor.link, window + 120)
        host = [b - a for a, b in zip(host0, host_cpu(), strict=True)]
        others = {
            name: cpu_of(pids) - others0[name] for name, pids in meanwhile.items()
        }
        await ask_all(links, ("finish",), 60)
        results = await ask_all(links, ("drain", final_n, drain), drain + 60)
    return Measured(
        clients,
        connected,
        window,
        cpu,
        None,
        final_n,
        results,
        [],
        {
            "frames_sent": sent,
            **{
                f"{name}_cpu_pct_meanwhile": round(100 * used / window, 1)
                for name, used in others.items()
            },
            **host_figures(host),
        },
    )
