"""The soak (issue 13): a long busy shift on ONE `manage.py serve` (daphne +
the telephony worker) following the embedded RingCentral in a process of
its own (`load-2000`: about 2,000 live calls, about 300 events a second),
with hundreds of consoles connected throughout (the lean consoles of
tests/support/lean_clients.py, in 2 child processes).

After a warm-up (the floor built, the consoles connected, the caches
full), the RSS of serve and of the simulator is sampled at a fixed pace.
At the end, one JSON line gives every figure beside its target:

- memory: each process's growth from the first sample after the warm-up
  to the last, and the least-squares slope per hour over those samples
  (the clients' own memory is shown, not judged: it is the test's);
- loss: no console skipped a delta, lost its socket or resynced, every
  console got byte-identical frames (CRC-32), and every frame by the end;
- the final floor: the floor paused, the verifying consoles' floors equal
  RingCentral's (`GET /_sim/state`): no call missing, extra or wrong;
- the worker still connected (`/healthz`).

Two forms of the same shift:

- `make soak` (marker `soak`, not in `make test`): SOAK_MINUTES (30,
  warm-up included: the first 2) with SOAK_CONSOLES (200); memory growth
  under 10 % after the warm-up. This is the one that judges flatness.
- the short form, in every `make test` (so in CI): 90 s (20 s of warm-up)
  with 50 consoles. A minute cannot judge a 10 % flatness target: Python's
  allocator, the feed's buffers and the floor's own swing (load-2000
  hovers around 2,000 calls, +-5 %) move RSS by a few percent in any
  minute, and a real leak of a few MB an hour is invisible in one. So it
  checks the mechanics (the shift runs, nothing is lost, the floor equals
  the truth, the worker stays connected) with a loose memory bound that
  catches only a gross leak. It asserts no timing: every wait is a
  generous bound, for a slow, busy 2-core CI machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fanout import (
    ask_all,
    connect_all,
    console_target,
    cpu_seconds,
    delta_loss,
    floor_check,
    host_cpu,
    metric,
    processes,
    rss_kb,
    serve_metrics,
    sim_sessions,
    wait_for_floor,
    wait_for_worker,
)
from tests.support.lean_clients import client_main
from tests.support.served import ServedApp, login_cookie, start_split_app

PROFILE = "load-2000"  # ~2,000 live calls, ~300 events/s
PROCESSES = 2  # client processes: one per core
MIN_CALLS = 1500  # the floor built before the consoles connect
DRAIN_S = 30.0  # after the shift: frames not in by then are missing
TARGET_EVENTS_PER_S = 300
TARGET_GROWTH_PCT = 10.0


@dataclass(frozen=True)
class Shift:
    seconds: float  # consoles connected, warm-up included
    consoles: int
    warmup_s: float
    sample_s: float  # RSS sampled this often
    growth_limit_pct: float  # asserted for serve and the simulator
    # Calls live before the worker subscribed count too: after a long shift
    # they have long ended, and one still on a console is a ghost. A short
    # shift may end before the worker's rate-paced resync reaches them.
    whole_floor: bool


LONG = Shift(
    seconds=60 * float(os.environ.get("SOAK_MINUTES", "30")),
    consoles=int(os.environ.get("SOAK_CONSOLES", "200")),
    warmup_s=120.0,
    sample_s=10.0,
    growth_limit_pct=TARGET_GROWTH_PCT,
    whole_floor=True,
)
# A gross leak only (see the module's docstring): 25 % of serve's ~150 MB
# in 70 s would be a leak of about 2 GB an hour.
SHORT = Shift(
    seconds=90.0,
    consoles=50,
    warmup_s=20.0,
    sample_s=5.0,
    growth_limit_pct=25.0,
    whole_floor=False,
)


@dataclass
class Sample:
    at: float  # seconds since the consoles connected
    rss_kb: dict[str, int]  # serve, simulator, clients (summed)
    live_calls: float
    events: float  # the worker's events so far
    consoles: dict[str, int]  # lean_clients.status, summed


async def sample(
    app: ServedApp, http: httpx.AsyncClient, links: list[Any]
) -> tuple[float, float, dict[str, int]]:
    """serve's live calls and events so far, the consoles' state; and
    that neither serve nor the simulator has died."""
    text = await serve_metrics(http)
    statuses = await ask_all(links, ("status",), 60)
    consoles = {
        key: sum(s[key] for s in statuses) for key in ("open", "gaps", "resynced")
    }
    assert app.process.poll() is None, "serve exited during the shift"
    assert app.simulator is not None and app.simulator.popen.poll() is None, (
        "the simulator exited during the shift"
    )
    return (
        metric(text, "switchboard_telephony_live_calls"),
        metric(text, "switchboard_telephony_events_total"),
        consoles,
    )


def memory(samples: list[Sample], name: str) -> dict[str, float]:
    """Growth first -> last, and the least-squares slope, per hour."""
    xs = [s.at / 3600 for s in samples]
    ys = [s.rss_kb[name] / 1024 for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / max(
        spread, 1e-12
    )
    first, last = ys[0], ys[-1]
    return {
        "first_mb": round(first, 1),
        "last_mb": round(last, 1),
        "max_mb": round(max(ys), 1),
        "growth_pct": round(100 * (last - first) / first, 2),
        "slope_mb_per_h": round(slope, 1),
        "slope_pct_per_h": round(100 * slope / first, 1),
    }


async def run_shift(tmp_path: Path, shift: Shift) -> dict[str, Any]:
    """The shift, start to end; its figures (one JSON line, printed)."""
    app = start_split_app(tmp_path, profile=PROFILE)
    assert app.simulator is not None
    try:
        cookie = login_cookie(app.url, app.username, app.password)
        async with (
            httpx.AsyncClient(base_url=app.url, timeout=30) as http,
            httpx.AsyncClient(base_url=app.simulator_url, timeout=60) as sim,
        ):
            worker_since = await wait_for_worker(http)
            older = set(await sim_sessions(sim))  # live as the worker began
            await wait_for_floor(http, MIN_CALLS, within=300)
            share = [
                shift.consoles // PROCESSES + (i < shift.consoles % PROCESSES)
                for i in range(PROCESSES)
            ]
            target = console_target(app, cookie)
            args = [(target, n, False) for n in share]
            with processes(client_main, args) as children:
                links = [link for link, _ in children]
                pids = {
                    "serve": [app.process.pid],
                    "simulator": [app.simulator.popen.pid],
                    "clients": [child.pid for _, child in children],
                }
                connected = await connect_all(links, app.process.pid)
                began = time.monotonic()
                samples: list[Sample] = []
                cpu0: dict[str, float] = {}
                host0 = host_cpu()
                # The shift's own pace: a sample every sample_s seconds.
                for due in _dues(shift):
                    await asyncio.sleep(max(0.0, began + due - time.monotonic()))
                    if due == shift.warmup_s:
                        cpu0 = {k: cpu_seconds(v[0]) for k, v in pids.items()}
                        host0 = host_cpu()
                    live, events, consoles = await sample(app, http, links)
                    samples.append(
                        Sample(
                            time.monotonic() - began,
                            {k: sum(rss_kb(p) for p in v) for k, v in pids.items()},
                            live,
                            events,
                            consoles,
                        )
                    )
                cpu = {k: cpu_seconds(v[0]) - cpu0[k] for k, v in pids.items()}
                host = [b - a for a, b in zip(host0, host_cpu(), strict=True)]
                final_n = max(await ask_all(links, ("finish",), 60))
                results = await ask_all(
                    links, ("drain", final_n, DRAIN_S), DRAIN_S + 60
                )
                floors, check = await floor_check(sim, links, worker_since, older)
            health = await http.get("/healthz", timeout=30)
    finally:
        app.stop()
    measured = samples  # all after the warm-up
    window = measured[-1].at - measured[0].at
    busy, _, total = host
    return {
        "soak": "busy_shift",
        "profile": PROFILE,
        "minutes": round(shift.seconds / 60, 1),
        "warmup_s": shift.warmup_s,
        "consoles": connected.consoles,
        "connect_errors": connected.errors,
        "samples": len(measured),
        "events_per_s": round((measured[-1].events - measured[0].events) / window, 1),
        "live_calls": {
            "first": measured[0].live_calls,
            "last": measured[-1].live_calls,
            "min": min(s.live_calls for s in measured),
            "max": max(s.live_calls for s in measured),
        },
        "memory": {name: memory(measured, name) for name in pids},
        "cpu_pct": {k: round(100 * v / window, 1) for k, v in cpu.items()},
        "host_cpu_busy_pct": round(100 * busy / max(total, 1), 1),
        "rss_mb_series": {
            name: [round(s.rss_kb[name] / 1024, 1) for s in measured]
            for name in ("serve", "simulator")
        },
        "frames": final_n,
        "loss": delta_loss(results),
        "final_floor": check,
        "consoles_compared": len(floors),
        "healthz": {
            "status": health.status_code,
            "worker_connected": health.json().get("worker_connected"),
        },
        "targets": {
            "events_per_s": TARGET_EVENTS_PER_S,
            "growth_pct": TARGET_GROWTH_PCT,
            "growth_pct_asserted": shift.growth_limit_pct,
            "lost": 0,
            "floor_missing_extra_wrong": 0,
            "ghosts_asserted": shift.whole_floor,
            "healthz": 200,
        },
    }


def _dues(shift: Shift) -> list[float]:
    """When to sample (seconds since the consoles connected): from the
    end of the warm-up to the end of the shift."""
    count = int((shift.seconds - shift.warmup_s) // shift.sample_s)
    return [shift.warmup_s + i * shift.sample_s for i in range(count + 1)]


def judge(figures: dict[str, Any], shift: Shift) -> None:
    print(json.dumps(figures), flush=True)  # noqa: T201 - the soak's output
    loss, check = figures["loss"], figures["final_floor"]
    assert figures["consoles"] == shift.consoles, figures["connect_errors"]
    assert not any(loss.values()), f"consoles lost deltas: {loss}"
    assert check["method"] == "paused", "the floor could not be paused"
    assert (check["missing"], check["extra"], check["wrong"]) == (0, 0, 0), check
    assert check["console_gaps"] == 0, check
    if shift.whole_floor:
        assert check["extra_older_than_the_worker"] == 0, f"ghost calls: {check}"
    assert figures["healthz"] == {"status": 200, "worker_connected": True}
    for name in ("serve", "simulator"):
        growth = figures["memory"][name]["growth_pct"]
        assert growth < shift.growth_limit_pct, f"{name} grew {growth} %"


@pytest.mark.soak
@pytest.mark.timeout(0)
async def test_a_long_busy_shift_keeps_memory_flat_and_the_floor_true(
    tmp_path: Path,
) -> None:
    judge(await run_shift(tmp_path, LONG), LONG)


async def test_a_short_busy_shift_loses_nothing_and_ends_on_the_truth(
    tmp_path: Path,
) -> None:
    judge(await run_shift(tmp_path, SHORT), SHORT)
