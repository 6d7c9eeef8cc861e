"""Issue 13's target on the scaled deployment: "with 4 daphne processes,
Redis and 1,000 consoles on this machine: p99 update latency under 150 ms
at 300 events/s".

The deployment is docs/deploy.md's, started by the launcher's own classes
(`telephony.management.cluster`: `Layout`, `Cluster`, what `make cluster`
runs) on free ports, its files under pytest's tmp_path: nginx in front of
BENCH_DAPHNES daphnes (4), BENCH_WORKERS telephony workers (2: one leads,
one stands by; each with `--metrics-port`, as docs/deploy.md runs them),
the embedded RingCentral in a process of its own playing BENCH_PROFILE at
BENCH_SPEED (load-5000 at 0.3: ~5,000 live calls, ~300 events/s), this
machine's Redis (a database of its own, BENCH_CLUSTER_REDIS, default
redis://127.0.0.1:6379/13, flushed before and after) and PostgreSQL (a
fresh database, created and dropped here). It is prepared as `manage.py
cluster` prepares it, by the command's own code (its checks and children's
environment, `migrate`, the demo supervisor); no `collectstatic`: nothing
here asks nginx for a static file. The consoles connect once the floor
has BENCH_MIN_CALLS live calls and the leading worker has finished its
first resync: a leader holds every snapshot back until then (on
load-5000, 1-2 minutes: presence for 10,000 agents at RingCentral's rate
limits).

BENCH_CLIENTS lean consoles (1,000; tests/support/lean_clients.py, in 2
client processes, one login cookie) connect THROUGH nginx, the
deployment's one URL, and nginx spreads them (`least_conn`); the consoles
each dashboard process holds are read from its /metrics and printed
(`consoles_per_daphne`). Each dashboard process numbers its own frames
(`epoch`), so loss is checked per process: every console gets every delta
of its process from its snapshot on, without a gap, byte-identical to
the other consoles of that process; two consoles per client process keep
the whole floor, compared at the end with GET /_sim/state: the floor
paused, once the deployment has caught up (the workers' and daphnes'
counters still, no resync under way; how long that took is printed:
how far behind it ran). Then, in the same run, the floor: a bare
`websockets` server in a process of its own broadcasting the very frames
one console received, at the times it received them, to as many lean
clients (as bench_fanout).

One JSON object on stdout, each figure beside the floor's and the ratio:
- event -> console latency (receive time - each call's `updated`, the
  simulator's event time; the feed's 0.1 s window included) p50/p99/max:
  the target's figure. Beside it the floor's delivery (its frame ->
  console: the floor sends each frame the moment it stamps it);
- frame -> console (receive time - the frame's `time`), like with like;
- loss (gaps, missing after a drain, resyncs, closed sockets, frames
  differing, the final floor against RingCentral's);
- CPU over the window (% of one core): each daphne, each worker (which
  leads), nginx (master and workers), Redis (the machine's server: anyone
  else's use of it counts), PostgreSQL (every process of the server alive
  at both ends of the window, anyone else's use included), the simulator,
  the clients, the machine; `server_cpu_pct` is the path a change takes:
  the daphnes, the workers, nginx and Redis. Beside it the floor server's
  one process;
- events/s the leading worker read, live calls, the daphnes' RSS per
  console, each daphne's feed (consoles, floor reloads, consoles cut
  loose), the workers' stream losses and resyncs (from their output).

It asserts correctness only (nothing lost, every console connected, no
process of the deployment exited), never a time: the figures are for
reading beside the floor's (docs/benchmarks.md).

Knobs: BENCH_CLIENTS (1000), BENCH_DAPHNES (4), BENCH_WORKERS (2),
BENCH_SECONDS (the window, 45; after a 5 s warm-up), BENCH_PROFILE
(load-5000), BENCH_SPEED (0.3), BENCH_MIN_CALLS (live calls before the
consoles connect, 4500: the floor is still filling below it),
BENCH_CLUSTER_REDIS. The processes' output goes to cluster.log under the
test's tmp_path (printed in the JSON).
Run: .venv/bin/pytest -m bench -q -s --timeout=0 tests/bench/bench_cluster.py
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import resource
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from telephony.management.cluster import Child, Cluster, Layout
from tests.support.failover import database
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
    pause_floor,
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
from tests.support.served import (
    METRICS_HEADERS,
    METRICS_TOKEN,
    PASSWORD_LINE,
    Process,
    free_port,
    login_cookie,
)

pytestmark = pytest.mark.bench

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "1000"))
DAPHNES = int(os.environ.get("BENCH_DAPHNES", "4"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
WINDOW_S = float(os.environ.get("BENCH_SECONDS", "45"))
PROFILE = os.environ.get("BENCH_PROFILE", "load-5000")
SPEED = float(os.environ.get("BENCH_SPEED", "0.3"))
MIN_CALLS = int(os.environ.get("BENCH_MIN_CALLS", "4500"))
REDIS_URL = os.environ.get("BENCH_CLUSTER_REDIS", "redis://127.0.0.1:6379/13")
WARMUP_S = 5.0
DRAIN_S = 10.0  # after the window: frames not in by then are missing
# The floor reaches MIN_CALLS, and the leader's first resync ends, within
# this (each), or the run fails.
FLOOR_WITHIN_S = 400.0
STILL_S = 2.0  # counters unchanged this long: the deployment has caught up
CATCH_UP_WITHIN_S = 180.0  # a resync of ~5,000 calls takes minutes: then as is
TARGET_P99_MS = 150.0
TARGET_EVENTS_PER_S = 300
# Lines of a worker's output counted over the run (docs/operations.md).
WORKER_LOG = {
    "stream_lost": "stream lost",
    "recovered_resyncing": "resyncing",
    "resyncs_done": "telephony.worker.resync: resync:",
}
METRICS_LINE = re.compile(r"metrics on (http://\S+)/metrics")

# What `manage.py cluster` does before it starts the parts, by its own
# code: the children's environment (its checks: nginx, PostgreSQL and
# Redis configured, the ports free), `migrate`, the demo supervisor (its
# password printed once). Run with the deployment's settings, so in a
# process of its own: the benchmark's are the test suite's.
PREPARE = """
import json
from django.core.management import call_command
from telephony.management.cluster import Layout
from telephony.management.commands import cluster, serve
layout = Layout(port={port}, daphne_ports={daphnes!r}, simulator_port={sim})
env = cluster.Command()._check(layout)
call_command("migrate", interactive=False, verbosity=0)
serve.Command()._ensure_demo_user()
print("CLUSTER_ENV " + json.dumps(env))
"""


# --- the deployment ------------------------------------------------------------


class MeteredCluster(Cluster):
    """The launcher's cluster, each worker serving its metrics as
    docs/deploy.md runs it (`--metrics-port`; 0 here: a free port, which
    the worker logs)."""

    def manage(self, *args: str) -> list[str]:
        command = super().manage(*args)
        if args[:1] == ("telephony_worker",):
            command += ["--metrics-port", "0"]
        return command

    def named(self, prefix: str) -> list[Child]:
        return [c for c in self.children if c.name.startswith(prefix)]


class Log:
    """Where the parts' output goes (the launcher's `Out`): a file. Writes
    after close (a part's last lines, drained by its thread) are dropped."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("w")
        self._lock = threading.Lock()

    def write(self, text: str) -> object:
        with self._lock:
            if not self._file.closed:
                self._file.write(text)
        return None

    def flush(self) -> object:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
        return None

    def close(self) -> None:
        with self._lock:
            self._file.close()


def child_env(db: str) -> dict[str, str]:
    """This environment for the deployment's database and Redis: without
    this shell's RingCentral or secret-key settings (the launcher gives the
    parts the embedded RingCentral's credentials)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RINGCENTRAL_", "DJANGO_SECRET_KEY"))
    }
    env.update(
        DATABASE_URL=db,
        REDIS_URL=REDIS_URL,
        DJANGO_SECRET_KEY="bench-cluster-only",
        METRICS_TOKEN=METRICS_TOKEN,
        # 1,000 consoles on one login, as tabs of one browser.
        SWITCHBOARD_CONSOLES_PER_USER="0",
    )
    return env


def prepare(layout: Layout, db: str) -> tuple[dict[str, str], str]:
    """PREPARE in a `manage.py shell`: the parts' environment and the demo
    supervisor's password."""
    code = PREPARE.format(
        port=layout.port, daphnes=list(layout.daphne_ports), sim=layout.simulator_port
    )
    shell = Process([sys.executable, "manage.py", "shell", "-c", code], child_env(db))
    status = shell.finish(timeout=180)
    out = "".join(shell.lines)
    assert status == 0, out
    found = re.search(r"^CLUSTER_ENV (.*)$", out, re.M)
    password = PASSWORD_LINE.search(out)
    assert found and password, out
    return json.loads(found[1]), password["pw"]


@contextmanager
def deployment(tmp_path: Path) -> Iterator[tuple[MeteredCluster, str]]:
    """Redis flushed, a fresh database, the parts started; everything
    stopped, dropped and flushed on the way out. With the demo
    supervisor's password."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # nginx holds two sockets a console (docs/deploy.md)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    layout = Layout(
        port=free_port(),
        daphne_ports=tuple(free_port() for _ in range(DAPHNES)),
        workers=WORKERS,
        simulator_port=free_port(),
        profile=PROFILE,
        speed=SPEED,
        directory=tmp_path / "cluster",
        static_root=tmp_path / "static",  # nothing asks for one
    )
    flush = redis.Redis.from_url(REDIS_URL)
    flush.flushdb()
    log = Log(tmp_path / "cluster.log")
    try:
        with database() as db:
            env, password = prepare(layout, db)
            cluster = MeteredCluster(layout, env, log)
            try:
                # In this thread: the parts die with the thread that
                # started them (PR_SET_PDEATHSIG), so not in a pool's.
                cluster.start()
                yield cluster, password
            finally:
                cluster.stop()
    finally:
        log.close()
        flush.flushdb()
        flush.close()


def metrics_url(worker: Child) -> str:
    worker.wait_for(METRICS_LINE.pattern)
    found = next(m for line in worker.lines if (m := METRICS_LINE.search(line)))
    return found[1]


# --- processes and their CPU ---------------------------------------------------


def pids_named(comm: str) -> list[int]:
    """Every process whose name (/proc/<pid>/comm) is `comm`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if (entry / "comm").read_text().strip() == comm:
                    found.append(int(entry.name))
    return found


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def cpu_by_pid(groups: dict[str, list[int]]) -> dict[int, float]:
    out = {}
    for pids in groups.values():
        for pid in pids:
            with suppress(OSError):
                out[pid] = cpu_seconds(pid)
    return out


def cpu_pct(
    groups: dict[str, list[int]],
    before: dict[int, float],
    after: dict[int, float],
    seconds: float,
) -> dict[str, float]:
    """Each group's CPU over the window, % of one core; a process counts
    if it was there at both ends."""
    return {
        name: round(
            100
            * sum(after[p] - before[p] for p in pids if p in before and p in after)
            / seconds,
            1,
        )
        for name, pids in groups.items()
    }


# --- one measurement -------------------------------------------------------------


@dataclass
class Run:
    cluster: MeteredCluster
    sim: httpx.AsyncClient  # the embedded RingCentral's control API
    workers: list[httpx.AsyncClient]  # each worker's metrics
    console: Target
    floor: FloorServer
    worker_since: float  # calls that began earlier are not compared
    older: set[str]  # and neither are these: live when the worker subscribed
    idle_cpu: float  # the daphnes' CPU % without consoles

    @property
    def daphnes(self) -> list[int]:
        return [c.popen.pid for c in self.cluster.named("daphne-")]

    def groups(self, clients: list[int]) -> dict[str, list[int]]:
        """Processes by name: each daphne, each worker, nginx, Redis,
        PostgreSQL, the simulator, the client processes."""
        nginx = [c.popen.pid for c in self.cluster.named("nginx")]
        out = {c.name: [c.popen.pid] for c in self.cluster.named("daphne-")}
        out |= {c.name: [c.popen.pid] for c in self.cluster.workers}
        out["nginx"] = [*nginx, *(p for n in nginx for p in children_of(n))]
        out["redis"] = pids_named("redis-server")
        out["postgres"] = pids_named("postgres")
        out["simulator"] = [c.popen.pid for c in self.cluster.named("simulator")]
        out["clients"] = clients
        return out


async def wait_for_resync(http: httpx.AsyncClient, within: float) -> None:
    """Until the leading worker's first resync is done (bounded): until
    then it holds every snapshot request back (telephony/worker/inbox.py:
    a new leader must not hand out an empty floor), so a console would
    wait for its floor. On load-5000 that is minutes after the start:
    presence for 10,000 agents at RingCentral's paging and rate limits."""
    async with asyncio.timeout(within):
        while True:  # polling another process: there is no event to await
            text = await serve_metrics(http)
            if nan_to_0(metric(text, "switchboard_telephony_resyncs_total")) >= 1:
                return
            await asyncio.sleep(1.0)


async def worker_figures(run: Run) -> list[dict[str, float]]:
    """Each worker's: connected (1: it leads), events read, live calls; 0
    for a figure a standby does not give."""
    texts = [await serve_metrics(http) for http in run.workers]
    names = {
        "connected": "switchboard_telephony_connected",
        "events": "switchboard_telephony_events_total",
        "live_calls": "switchboard_telephony_live_calls",
    }
    return [
        {key: nan_to_0(metric(text, name)) for key, name in names.items()}
        for text in texts
    ]


def nan_to_0(value: float) -> float:
    return 0.0 if math.isnan(value) else value


async def daphne_figures(run: Run) -> list[dict[str, Any]]:
    """Each dashboard process's feed, from its own /metrics (not through
    nginx, which would pick one)."""
    out = []
    async with httpx.AsyncClient(timeout=30, headers=METRICS_HEADERS) as http:
        for port in run.cluster.layout.daphne_ports:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            out.append(
                {
                    "port": port,
                    "consoles": int(metric(text, "switchboard_feed_consoles")),
                    "behind": int(metric(text, "switchboard_feed_consoles_behind")),
                    "live_calls": int(metric(text, "switchboard_feed_live_calls")),
                    "cut_loose": int(
                        metric(text, "switchboard_feed_consoles_cut_loose_total")
                    ),
                    "floor_loads": int(
                        metric(text, "switchboard_feed_floor_loads_total")
                    ),
                    "frames_written": int(
                        metric(text, "switchboard_feed_frames_written_total")
                    ),
                }
            )
    return out


def resync_pending(run: Run) -> bool:
    """Whether a worker has a resync under way, by its output: it starts
    one on a new session and on a recovered one it does not trust
    ("resyncing"), and logs each one it finishes."""
    for worker in run.cluster.workers:
        lines = list(worker.lines)
        started = sum(
            "stream connected (new session)" in line or "resyncing" in line
            for line in lines
        )
        if sum(WORKER_LOG["resyncs_done"] in line for line in lines) < started:
            return True
    return False


async def caught_up_after_pause(run: Run) -> float | None:
    """Pause the floor, then wait (bounded) until the leading worker has
    read every event RingCentral sent before it, finished any resync under
    way (its repair after a lost stream), and every dashboard process has
    written its frames: their counters unchanged for STILL_S (across
    processes there is nothing to await). The seconds that took, less
    STILL_S: how far behind the deployment was. None: the simulator
    cannot pause, or it never went still. The final comparison comes
    after this, so a deployment running behind is not counted as loss."""
    if not await pause_floor(run.sim, True):
        return None
    began = still_since = time.monotonic()
    last: tuple[float, ...] = ()
    with suppress(TimeoutError):
        async with asyncio.timeout(CATCH_UP_WITHIN_S):
            while True:
                counts = (
                    *(w["events"] for w in await worker_figures(run)),
                    *(d["frames_written"] for d in await daphne_figures(run)),
                )
                now = time.monotonic()
                if counts != last:
                    last, still_since = counts, now
                elif now - still_since >= STILL_S and not resync_pending(run):
                    return round(still_since - began, 1)
                await asyncio.sleep(0.5)
    return None


def last_per_epoch(replies: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for reply in replies:
        for epoch, n in reply.items():
            out[epoch] = max(out.get(epoch, -1), n)
    return out


async def measure_cluster(run: Run, clients: int) -> Measured:
    args = [(run.console, share, i == 0) for i, share in enumerate(shares(clients))]
    with processes(client_main, args) as children:
        links = [link for link, _ in children]
        connected = await connect_all(links, *run.daphnes)
        spread = await daphne_figures(run)
        await asyncio.sleep(WARMUP_S)
        groups = run.groups([child.pid for _, child in children])
        workers0 = await worker_figures(run)
        cpu0, host0 = cpu_by_pid(groups), host_cpu()
        for link in links:
            link.send(("mark",))
        start = time.monotonic()
        await asyncio.sleep(WINDOW_S)
        await ask_all(links, ("finish",), 60)
        seconds = time.monotonic() - start
        cpu1, host1 = cpu_by_pid(groups), host_cpu()
        workers1 = await worker_figures(run)
        ends = last_per_epoch(await ask_all(links, ("ends",), 60))
        results = await ask_all(links, ("drain", ends, DRAIN_S), DRAIN_S + 60)
        feeds = await daphne_figures(run)
        behind_s = await caught_up_after_pause(run)
        # What the workers hold (paused and caught up): beside RingCentral's
        # count, it tells a worker's wrong model from consoles' wrong floors.
        workers2 = await worker_figures(run)
        floors, check = await floor_check(run.sim, links, run.worker_since, run.older)
    cpu = cpu_pct(groups, cpu0, cpu1, seconds)
    path = [g for g in groups if g.startswith(("daphne-", "worker-"))]
    path += ["nginx", "redis"]
    events = sum(
        b["events"] - a["events"] for a, b in zip(workers0, workers1, strict=True)
    )
    leader = [i for i, w in enumerate(workers1) if w["connected"] == 1]
    return Measured(
        clients,
        connected,
        seconds,
        sum(cpu[g] for g in path) * seconds / 100,
        None,
        max(ends.values(), default=-1),
        results,
        floors,
        {
            "consoles_per_daphne": [d["consoles"] for d in spread],
            "events_per_s": round(events / seconds, 1),
            "live_calls": int(max(w["live_calls"] for w in workers1)),
            "leading_worker": [f"worker-{i + 1}" for i in leader],
            "cpu_pct": cpu,
            "cpu_pct_daphnes": round(
                sum(v for k, v in cpu.items() if k.startswith("daphne-")), 1
            ),
            "processes_found": {name: len(pids) for name, pids in groups.items()},
            "daphnes": feeds,
            **host_figures([b - a for a, b in zip(host0, host1, strict=True)]),
            "caught_up_after_pause_s": behind_s,
            "worker_live_calls_at_comparison": int(
                max(w["live_calls"] for w in workers2)
            ),
            # The leader's stream to RingCentral over the whole run: lost
            # (a busy worker misses the keepalive pings) and resyncs done.
            "worker_log": {
                c.name: {
                    key: sum(pattern in line for line in c.lines)
                    for key, pattern in WORKER_LOG.items()
                }
                for c in run.cluster.workers
            },
            "final_floor": check,
        },
    )


# --- the run -------------------------------------------------------------------------


def side_by_side(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Each figure of ours beside the floor's: the ratio."""
    ours_e, ours_f = a["event_to_console_ms"], a["frame_to_console_ms"]
    base_f = b["frame_to_console_ms"]
    out: dict[str, Any] = {}
    for q in ("p50", "p99", "max"):
        # The floor's event is its frame: it sends each one as it stamps it.
        out[f"event_to_console_{q}"] = ratio(ours_e.get(q), base_f.get(q))
        out[f"frame_to_console_{q}"] = ratio(ours_f.get(q), base_f.get(q))
    out["server_cpu"] = ratio(a["server_cpu_pct"], b["server_cpu_pct"])
    out["rss_per_console"] = ratio(a["rss_kb_per_console"], b["rss_kb_per_console"])
    out["connect_s"] = ratio(a["connect_s"], b["connect_s"])
    out["client_cpu"] = ratio(a["client_cpu_pct_total"], b["client_cpu_pct_total"])
    return out


async def measure(run: Run) -> dict[str, Any]:
    await settle(run.daphnes, run.idle_cpu)
    ours = await measure_cluster(run, CLIENTS)
    record: list[tuple[float, bytes]]
    record = next((r["record"] for r in ours.results if r["record"]), [])
    assert record, "no delta frame was recorded"
    await settle(run.daphnes, run.idle_cpu)
    base = await measure_floor(
        run.floor,
        CLIENTS,
        record,
        warmup=WARMUP_S,
        window=WINDOW_S,
        drain=DRAIN_S,
        meanwhile={"daphnes": run.daphnes},
    )
    a, b = figures(ours), figures(base)
    del b["event_to_console_ms"]  # the replayed frames' event stamps are old
    p99 = a["event_to_console_ms"].get("p99")
    return {
        "switchboard": a,
        "floor_bare_websockets": b,
        "ratio": side_by_side(a, b),
        "targets": {
            "event_to_console_p99_ms": TARGET_P99_MS,
            "events_per_s": TARGET_EVENTS_PER_S,
            "lost": 0,
        },
        "event_to_console_p99_under_target": p99 is not None and p99 < TARGET_P99_MS,
        "lost": lost(a),
    }


async def test_cluster_fanout(tmp_path: Path) -> None:
    with deployment(tmp_path) as (cluster, password):
        layout = cluster.layout
        urls = [metrics_url(w) for w in cluster.workers]
        leader = next(
            i
            for i, w in enumerate(cluster.workers)
            if any("stream connected" in line for line in w.lines)
        )
        cookie = login_cookie(layout.url, "supervisor", password)
        async with (
            floor_server() as floor,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{layout.simulator_port}", timeout=60
            ) as sim,
        ):
            workers = [httpx.AsyncClient(base_url=u, timeout=30) for u in urls]
            try:
                worker_since = await wait_for_worker(workers[leader])
                older = set(await sim_sessions(sim))  # live as the worker began
                await wait_for_floor(workers[leader], MIN_CALLS, FLOOR_WITHIN_S)
                await wait_for_resync(workers[leader], FLOOR_WITHIN_S)
                daphnes = [c.popen.pid for c in cluster.named("daphne-")]
                idle_cpu = await cpu_without_consoles(daphnes)
                run = Run(
                    cluster,
                    sim,
                    workers,
                    console_target(layout.url, cookie),
                    floor,
                    worker_since,
                    older,
                    idle_cpu,
                )
                line = {
                    "bench": "cluster_fanout",
                    "clients": CLIENTS,
                    "daphnes": DAPHNES,
                    "workers": WORKERS,
                    "consoles_via": f"nginx {urlsplit(layout.url).netloc}",
                    "profile": PROFILE,
                    "speed": SPEED,
                    "window_s": WINDOW_S,
                    "daphnes_cpu_pct_without_consoles": idle_cpu,
                    **await measure(run),
                    "log": str(tmp_path / "cluster.log"),
                }
            finally:
                for http in workers:
                    await http.aclose()
        exited = [f"{c.name} ({c.popen.returncode})" for c in cluster.exited()]
    print(json.dumps(line), flush=True)
    # Correctness, not targets: every console connected, nothing lost,
    # no part of the deployment died.
    ours = line["switchboard"]
    assert not exited, f"exited during the run: {exited}"
    assert ours["connected"] == CLIENTS, ours["connect_errors"]
    assert ours["event_to_console_ms"]["samples"]
    assert line["floor_bare_websockets"]["frame_to_console_ms"]["samples"]
    assert line["lost"] == 0, {"loss": ours["loss"], "final": ours["final_floor"]}
