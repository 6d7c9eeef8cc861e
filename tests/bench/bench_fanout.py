"""Fan-out at users' scale: N = 100, 500, 1,000 supervisor consoles on ONE
dashboard process (`manage.py serve`: daphne + the telephony worker) while
the embedded RingCentral, in a process of its own, plays a floor of about
2,000 live calls and 300 events a second; beside a floor measured in the
same run: a bare `websockets` server broadcasting the very frames the feed
sent (recorded on one console), at the times it sent them, to the same N
lean clients.

Per N, one JSON line:
- event -> console latency (receive time - each call's `updated`, the
  simulator's event time; it includes the coalescing window, 0.1 s) and
  frame -> console latency (receive time - the frame's `time`, when the feed
  built it; the floor stamps its send time there, so the ratio of these
  two compares like with like);
- loss: every console must get every delta from its snapshot's `n` on,
  without a gap, byte-identical to every other console's (CRC-32), and
  be cut loose or resynced never; two consoles per client process keep
  the whole floor, compared at the end with GET /_sim/state (with the
  floor paused when the simulator can pause it; else bracketed by two
  reads, and only calls that did not change between them are compared);
- the serve process's CPU over the window (all threads; the daphne thread
  alone beside it), its RSS growth per console, the clients' own CPU.
CPU figures are % of one core (the machine's, `host_cpu_*`, of all its
cores); a client process near 100 % means the client, not the server,
limited the run. Targets (docs/performance.md 1):
CPU <= 1 core, <= 50 KB per console, no loss.

The floor profile: BENCH_PROFILE (default load-2000; until that profile
exists in the simulator: load-5000 at speed 0.3, ~300 events/s on ~5,000
calls), BENCH_SPEED, BENCH_CLIENTS (e.g. "100,1000"). To look closer:
BENCH_PYSPY=<py-spy executable> profiles serve over each window (collapsed
stacks in BENCH_PYSPY_OUT, default /tmp); BENCH_DUMP=<dir> writes one
console's frames over time per path (to see stalls).
Run: .venv/bin/pytest -m bench -q -s tests/bench/bench_fanout.py
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import re
import subprocess
import time
from array import array
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from telephony.simulator.floor.profiles import PROFILES
from tests.support.lean_clients import (
    Target,
    client_main,
    floor_main,
    pipe_recv,
)
from tests.support.served import (
    METRICS_HEADERS,
    ServedApp,
    login_cookie,
    start_split_app,
)

pytestmark = pytest.mark.bench

CLIENTS = tuple(
    int(n) for n in os.environ.get("BENCH_CLIENTS", "100,500,1000").split(",")
)
PROCESSES = 2  # client processes: one per core of the target machine
WARMUP_S = 3.0
WINDOW_S = 10.0
DRAIN_S = 10.0  # after the window: frames not in by then are missing
CATCH_UP_S = 30.0  # the final comparison waits this long at most
MIN_CALLS = 1800  # live calls before the first N ("about 2,000": load-2000 hovers)
TARGET_CPU_PCT = 100.0
TARGET_KB_PER_CONSOLE = 50.0
TARGET_P99_MS = 100.0  # docs/performance.md 1 (the feed's window is 0.1 s)


def floor_profile() -> tuple[str, float]:
    """load-2000 once the simulator has it; load-5000 slowed to 0.3 (about
    the same event rate on more calls) until then."""
    name = os.environ.get("BENCH_PROFILE", "load-2000")
    speed = os.environ.get("BENCH_SPEED")
    if name not in PROFILES:
        return "load-5000", float(speed or 0.3)
    return name, float(speed or 1.0)


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


@contextmanager
def profiled(pid: int, clients: int) -> Iterator[None]:
    """With BENCH_PYSPY (a py-spy executable), a profile of the serve
    process over the window: collapsed stacks (py-spy's raw format, one
    file per N) under BENCH_PYSPY_OUT (default /tmp)."""
    spy = os.environ.get("BENCH_PYSPY")
    if not spy:
        yield
        return
    out = Path(os.environ.get("BENCH_PYSPY_OUT", "/tmp")) / f"fanout-{clients}.txt"
    args = [spy, "record", "-p", str(pid), "-d", str(int(WINDOW_S)), "-r", "200"]
    args += ["-f", "raw", "--nonblocking", "--threads", "-o", str(out)]
    recorder = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield
    finally:
        try:
            recorder.wait(timeout=WINDOW_S + 30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()


def dump_series(name: str, record: list[tuple[float, bytes]]) -> None:
    """With BENCH_DUMP (a directory), one console's frames over the window:
    receive time, frame -> console ms, bytes; to see stalls in time."""
    folder = os.environ.get("BENCH_DUMP")
    if not folder or not record:
        return
    with (Path(folder) / f"fanout-{name}.txt").open("w") as out:
        for at, payload in record:
            built = re.search(rb'"time":(\d+)', payload)
            assert built is not None
            out.write(f"{at:.3f} {at * 1000 - int(built[1]):.1f} {len(payload)}\n")


def host_cpu() -> tuple[float, float, float]:
    """Busy, steal and total jiffies of the whole machine (/proc/stat)."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, fields[7], sum(fields)


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(match[1]) if match else float("nan")


async def serve_metrics(http: httpx.AsyncClient) -> str:
    return (await http.get("/metrics", headers=METRICS_HEADERS)).text


# --- one measurement ---------------------------------------------------------


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


@dataclass
class Connected:
    consoles: int
    errors: list[str]
    seconds: float
    rss_before_kb: int
    rss_half_kb: int  # with the first half of the consoles connected
    half: int
    rss_kb: int


async def connect_all(links: list[Connection], pid: int) -> Connected:
    """Wait for the clients to connect, in two halves; the server's RSS
    before, between and after (each after a short settle)."""
    before = rss_kb(pid)
    halves = await asyncio.gather(*(pipe_recv(link, 300) for link in links))
    await asyncio.sleep(0.5)
    rss_half = rss_kb(pid)
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
        rss_kb(pid),
    )


async def ask_all(
    links: list[Connection], command: tuple[Any, ...], within: float
) -> list[Any]:
    for link in links:
        link.send(command)
    return list(await asyncio.gather(*(pipe_recv(link, within) for link in links)))


def shares(clients: int) -> list[int]:
    return [clients // PROCESSES + (i < clients % PROCESSES) for i in range(PROCESSES)]


async def measure_switchboard(bench: Bench, clients: int) -> Measured:
    pid = bench.app.process.pid
    args = [(bench.console, share, i == 0) for i, share in enumerate(shares(clients))]
    with processes(client_main, args) as children:
        links = [link for link, _ in children]
        connected = await connect_all(links, pid)
        await asyncio.sleep(WARMUP_S)
        metrics0 = await serve_metrics(bench.http)
        sim_pid = bench.app.simulator.popen.pid if bench.app.simulator else None
        sim0 = cpu_seconds(sim_pid) if sim_pid else 0.0
        cpu0, main0 = cpu_seconds(pid), cpu_seconds(pid, pid)
        host0 = host_cpu()
        for link in links:
            link.send(("mark",))
        start = time.monotonic()
        with profiled(pid, clients):
            await asyncio.sleep(WINDOW_S)
        last = await ask_all(links, ("finish",), 60)
        seconds = time.monotonic() - start
        cpu, main = cpu_seconds(pid) - cpu0, cpu_seconds(pid, pid) - main0
        sim_cpu = cpu_seconds(sim_pid) - sim0 if sim_pid else 0.0
        host = [b - a for a, b in zip(host0, host_cpu(), strict=True)]
        metrics1 = await serve_metrics(bench.http)
        final_n = max(last)
        results = await ask_all(links, ("drain", final_n, DRAIN_S), DRAIN_S + 60)
        floors, check = await floor_check(
            bench.sim, links, bench.worker_since, bench.older
        )
    events = metric(metrics1, "switchboard_telephony_events_total") - metric(
        metrics0, "switchboard_telephony_events_total"
    )
    return Measured(
        clients,
        connected,
        seconds,
        cpu,
        main,
        final_n,
        results,
        floors,
        {
            "live_calls": int(metric(metrics1, "switchboard_feed_live_calls")),
            # Worker snapshots the feed asked for so far (1: its start; more:
            # it saw a gap in the worker's changes and reloaded the floor).
            "feed_floor_loads": int(
                metric(metrics1, "switchboard_feed_floor_loads_total")
            ),
            "events_per_s": round(events / seconds, 1),
            "simulator_cpu_pct": round(100 * sim_cpu / seconds, 1),
            **host_figures(host),
            "final_floor": check,
        },
    )


async def measure_floor(
    bench: Bench, clients: int, record: list[tuple[float, bytes]]
) -> Measured:
    pid = bench.floor_pid
    dump = bool(os.environ.get("BENCH_DUMP"))
    args = [
        (bench.bare, share, dump and i == 0) for i, share in enumerate(shares(clients))
    ]
    with processes(client_main, args) as children:
        links = [link for link, _ in children]
        connected = await connect_all(links, pid)
        bench.floor.send(("run", record, WARMUP_S, WINDOW_S))
        _, _start = await pipe_recv(bench.floor, 120)
        host0, serve0 = host_cpu(), cpu_seconds(bench.app.process.pid)
        for link in links:
            link.send(("mark",))
        _, _end, sent, final_n, cpu = await pipe_recv(bench.floor, 120)
        host = [b - a for a, b in zip(host0, host_cpu(), strict=True)]
        serve = cpu_seconds(bench.app.process.pid) - serve0
        await ask_all(links, ("finish",), 60)
        results = await ask_all(links, ("drain", final_n, DRAIN_S), DRAIN_S + 60)
    return Measured(
        clients,
        connected,
        WINDOW_S,
        cpu,
        None,
        final_n,
        results,
        [],
        {
            "frames_sent": sent,
            "serve_cpu_pct_meanwhile": round(100 * serve / WINDOW_S, 1),
            **host_figures(host),
        },
    )


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
        command = ("floor", since, CATCH_UP_S)
        floors = [f for r in await ask_all(links, command, CATCH_UP_S + 60) for f in r]
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


# --- figures -----------------------------------------------------------------


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
    crcs: dict[int, set[int]] = {}
    for r in rs:
        for n, crc in r["crcs"].items():
            crcs.setdefault(n, set()).add(crc)
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
        "loss": {
            "gaps": sum(r["gaps"] for r in rs),
            "missing_after_drain": sum(r["missing"] for r in rs),
            "resynced": sum(r["resynced"] for r in rs),
            "closed": sum(r["closed"] for r in rs),
            "frames_differing": sum(len(c) > 1 for c in crcs.values())
            + sum(r["crc_mismatches"] for r in rs),
        },
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


# --- the run -----------------------------------------------------------------


@dataclass
class Bench:
    app: ServedApp
    http: httpx.AsyncClient  # serve
    sim: httpx.AsyncClient  # the embedded RingCentral's control API
    console: Target
    floor: Connection  # the floor server's pipe
    floor_pid: int
    bare: Target
    worker_since: float  # calls that began earlier are not compared
    older: set[str]  # and neither are these: live when the worker subscribed
    idle_cpu: float  # serve's CPU % without consoles


def console_target(app: ServedApp, cookie: str) -> Target:
    """Every console reuses one login's cookie, as tabs of one browser do."""
    address = urlsplit(app.url)
    assert address.hostname and address.port
    return Target(
        address.hostname,
        address.port,
        "/ws/console/",
        (("Origin", app.url), ("Cookie", cookie)),
        snapshot_first=True,
    )


async def one_n(bench: Bench, n: int) -> dict[str, Any]:
    await settle(bench.app.process.pid, bench.idle_cpu)
    ours = await measure_switchboard(bench, n)
    record = next((r["record"] for r in ours.results if r["record"]), [])
    dump_series(f"switchboard-{n}", record)
    assert record, "no delta frame was recorded"
    await settle(bench.app.process.pid, bench.idle_cpu)
    base = await measure_floor(bench, n, record)
    dump_series(
        f"floor-{n}", next((r["record"] for r in base.results if r["record"]), [])
    )
    a, b = figures(ours), figures(base)
    del b["event_to_console_ms"]  # the replayed frames' stamps are old
    return {
        "switchboard": a,
        "floor_bare_websockets": b,
        "ratio": {
            "frame_to_console_p50": ratio(
                a["frame_to_console_ms"].get("p50"), b["frame_to_console_ms"].get("p50")
            ),
            "frame_to_console_p99": ratio(
                a["frame_to_console_ms"].get("p99"), b["frame_to_console_ms"].get("p99")
            ),
            "server_cpu": ratio(a["server_cpu_pct"], b["server_cpu_pct"]),
            "rss_per_console": ratio(a["rss_kb_per_console"], b["rss_kb_per_console"]),
        },
        "targets": {
            "event_to_console_p99_ms": TARGET_P99_MS,
            "server_cpu_pct": TARGET_CPU_PCT,
            "rss_kb_per_console": TARGET_KB_PER_CONSOLE,
            "lost": 0,
        },
        "lost": lost(a),
    }


async def wait_for_worker(http: httpx.AsyncClient) -> float:
    """When the worker is subscribed (a second late: creationTime has
    whole seconds)."""
    async with asyncio.timeout(60):
        while True:  # polling another process: there is no event to await
            if metric(await serve_metrics(http), "switchboard_telephony_connected"):
                return time.time() + 1.0
            await asyncio.sleep(0.2)


async def wait_for_floor(http: httpx.AsyncClient) -> int:
    """Until the worker follows MIN_CALLS live calls (bounded: 240 s)."""
    async with asyncio.timeout(240):
        while True:
            live = metric(await serve_metrics(http), "switchboard_telephony_live_calls")
            if live >= MIN_CALLS:
                return int(live)
            await asyncio.sleep(1.0)


async def settle(pid: int, idle_pct: float, within: float = 30.0) -> None:
    """Until serve's CPU is back near what it is without consoles (the
    last phase's consoles leaving cost it a few seconds), bounded."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        cpu = cpu_seconds(pid)
        await asyncio.sleep(1.0)
        if 100 * (cpu_seconds(pid) - cpu) <= idle_pct + 15:
            return


async def cpu_without_consoles(pid: int, seconds: float = 5.0) -> float:
    """serve's CPU with no console: the worker following the floor."""
    cpu, began = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return round(100 * (cpu_seconds(pid) - cpu) / (time.monotonic() - began), 1)


async def test_console_fanout(tmp_path: Path) -> None:
    profile, speed = floor_profile()
    app = start_split_app(tmp_path, profile=profile, speed=speed)
    try:
        cookie = login_cookie(app.url, app.username, app.password)
        with processes(floor_main, [()]) as ((floor, floor_child),):
            port = await pipe_recv(floor, 60)
            async with (
                httpx.AsyncClient(base_url=app.url, timeout=30) as http,
                httpx.AsyncClient(base_url=app.simulator_url, timeout=60) as sim,
            ):
                worker_since = await wait_for_worker(http)
                older = set(await sim_sessions(sim))  # live as the worker began
                await wait_for_floor(http)
                idle_cpu = await cpu_without_consoles(app.process.pid)
                bench = Bench(
                    app,
                    http,
                    sim,
                    console_target(app, cookie),
                    floor,
                    floor_child.pid,
                    Target("127.0.0.1", port, "/", (), snapshot_first=False),
                    worker_since,
                    older,
                    idle_cpu,
                )
                for n in CLIENTS:
                    line = {
                        "bench": "console_fanout",
                        "clients": n,
                        "profile": profile,
                        "speed": speed,
                        "window_s": WINDOW_S,
                        "serve_cpu_pct_without_consoles": idle_cpu,
                        **await one_n(bench, n),
                    }
                    print(json.dumps(line), flush=True)
                    # Sanity, not a target: both paths delivered something.
                    assert line["switchboard"]["event_to_console_ms"]["samples"]
                    assert line["floor_bare_websockets"]["frame_to_console_ms"][
                        "samples"
                    ]
    finally:
        app.stop()
