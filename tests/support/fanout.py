"""Lean consoles against a served app, for the benchmarks and the soak:
their child processes, the server's CPU and memory from /proc, its
/metrics, and the final check of the consoles' floors against the
embedded RingCentral's truth (`GET /_sim/state`, with the floor paused).

The consoles themselves are `lean_clients.client_main`; the app is
`served.start_split_app` (serve and the simulator in processes of their own).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.lean_clients import Target, pipe_recv
from tests.support.served import METRICS_HEADERS, ServedApp

CATCH_UP_S = 30.0  # the final comparison waits this long at most


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
