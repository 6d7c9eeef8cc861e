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
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from telephony.simulator.floor.profiles import PROFILES
from tests.support.fanout import (
    FloorServer,
    Measured,
    ask_all,
    connect_all,
    console_target,
    cpu_seconds,
    cpu_without_consoles,
    figures,
    floor_check,
    floor_server,
    host_cpu,
    host_figures,
    lost,
    measure_floor,
    metric,
    processes,
    ratio,
    serve_metrics,
    settle,
    shares,
    sim_sessions,
    wait_for_floor,
    wait_for_worker,
)
from tests.support.lean_clients import Target, client_main
from tests.support.served import ServedApp, login_cookie, start_split_app

pytestmark = pytest.mark.bench

CLIENTS = tuple(
    int(n) for n in os.environ.get("BENCH_CLIENTS", "100,500,1000").split(",")
)
WARMUP_S = 3.0
WINDOW_S = 10.0
DRAIN_S = 10.0  # after the window: frames not in by then are missing
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


# --- looking closer -----------------------------------------------------------


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


# --- one measurement ---------------------------------------------------------


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


# --- the run -----------------------------------------------------------------


@dataclass
class Bench:
    app: ServedApp
    http: httpx.AsyncClient  # serve
    sim: httpx.AsyncClient  # the embedded RingCentral's control API
    console: Target
    floor: FloorServer
    worker_since: float  # calls that began earlier are not compared
    older: set[str]  # and neither are these: live when the worker subscribed
    idle_cpu: float  # serve's CPU % without consoles


async def one_n(bench: Bench, n: int) -> dict[str, Any]:
    serve = [bench.app.process.pid]
    await settle(serve, bench.idle_cpu)
    ours = await measure_switchboard(bench, n)
    record = next((r["record"] for r in ours.results if r["record"]), [])
    dump_series(f"switchboard-{n}", record)
    assert record, "no delta frame was recorded"
    await settle(serve, bench.idle_cpu)
    base = await measure_floor(
        bench.floor,
        n,
        record,
        warmup=WARMUP_S,
        window=WINDOW_S,
        drain=DRAIN_S,
        meanwhile={"serve": serve},
        record_first=bool(os.environ.get("BENCH_DUMP")),
    )
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


async def test_console_fanout(tmp_path: Path) -> None:
    profile, speed = floor_profile()
    app = start_split_app(tmp_path, profile=profile, speed=speed)
    try:
        cookie = login_cookie(app.url, app.username, app.password)
        async with (
            floor_server() as floor,
            httpx.AsyncClient(base_url=app.url, timeout=30) as http,
            httpx.AsyncClient(base_url=app.simulator_url, timeout=60) as sim,
        ):
            worker_since = await wait_for_worker(http)
            older = set(await sim_sessions(sim))  # live as the worker began
            await wait_for_floor(http, MIN_CALLS)
            idle_cpu = await cpu_without_consoles([app.process.pid])
            bench = Bench(
                app,
                http,
                sim,
                console_target(app, cookie),
                floor,
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
                assert line["floor_bare_websockets"]["frame_to_console_ms"]["samples"]
    finally:
        app.stop()
