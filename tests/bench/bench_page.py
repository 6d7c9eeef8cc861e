"""The console page at users' scale: Debian's Chromium at 1920x1080, logged
in to `manage.py serve` (daphne + worker) following the embedded
RingCentral in a process of its own with about 5,000 live calls at about
300 events a second (load-5000 at speed 0.3). One JSON line:

- floor_shown_ms: from the console's socket opening to the whole floor
  shown (the store synced, the grid's aria-rowcount = the store's calls,
  one animation frame later: painted). Target 2 s.
- frame_ms p95 over 20 s of the live floor (requestAnimationFrame deltas).
  Target 20 ms.
- long tasks (PerformanceObserver 'longtask', > 50 ms by definition):
  while the floor loads and over the 20 s; target: none over 100 ms.
- JS heap (performance.memory.usedJSHeapSize, precise): the most seen
  over the 20 s. Target 100 MB.
- search_ms per keystroke: from the search box's input event to the
  floor's render done (the grid holds the matches), typing a customer's
  number digit by digit and erasing it, with the floor live. Target 50 ms.

Beside them, measured in the same browser in the same run: a fixed JS
workload in a blank page (JSON.parse of a text of the floor's size, the
page's calls as JSON, then sorting its 5,000 objects) and a blank page's
frame p95, with the ratios. The machine's CPU over the 20 s shows how much
the rest of it (serve, the simulator, Chromium) contended.
Profile: BENCH_PAGE_PROFILE (default load-5000), BENCH_PAGE_SPEED (0.3).
Run: .venv/bin/pytest -m bench -q -s tests/bench/bench_page.py
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.browser import logged_in
from tests.support.served import METRICS_HEADERS, start_split_app

pytestmark = pytest.mark.bench

FULL_HD = {"width": 1920, "height": 1080}
PROFILE = os.environ.get("BENCH_PAGE_PROFILE", "load-5000")
SPEED = float(os.environ.get("BENCH_PAGE_SPEED", "0.3"))
MIN_CALLS = 4500  # "about 5,000": the floor is still filling up below it
LIVE_S = 20.0
KEY_DELAY_MS = 200  # a fast typist
TARGETS = {
    "floor_shown_ms": 2000,
    "frame_p95_ms": 20,
    "long_task_max_ms": 100,
    "heap_mb": 100,
    "search_p95_ms": 50,
}

# Runs in every document before the page's scripts: when the console's
# socket opens, when the whole floor is shown, long tasks.
INSTRUMENT = """
(() => {
  const b = (window.__bench = { openAt: null, shownAt: null, shown: 0,
    longtasks: [], renders: [], inputs: [] });
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("open", () => {
        if (b.openAt === null) b.openAt = performance.now();
      });
    }
  };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) b.longtasks.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (e) {}
  window.addEventListener("input", (e) => {
    if (e.target && e.target.id === "search") b.inputs.push(e.timeStamp);
  }, true);
  const check = () => {
    const sb = window.switchboard;
    const root = document.getElementById("floor");
    if (sb && root && sb.store.synced && sb.store.size > 0 &&
        Number(root.getAttribute("aria-rowcount")) === sb.store.size) {
      b.shown = sb.store.size;
      b.shownAt = performance.now();  // the frame after the render: painted
      return;
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();
"""

# rAF deltas and the heap, sampled, for `ms`.
FRAMES = """
(ms) => new Promise((resolve) => {
  const deltas = [], heap = [];
  let last = null, sampled = 0;
  const end = performance.now() + ms;
  const tick = (t) => {
    if (last !== null) deltas.push(t - last);
    last = t;
    if (performance.memory && t - sampled > 500) {
      heap.push(performance.memory.usedJSHeapSize);
      sampled = t;
    }
    if (t < end) requestAnimationFrame(tick);
    else resolve({ deltas, heap, at: performance.now() });
  };
  requestAnimationFrame(tick);
})
"""

# Every render of the floor view, timed (search latency).
WATCH_RENDERS = """
() => {
  const floor = window.switchboard.floor;
  const render = floor.render.bind(floor);
  floor.render = () => {
    const out = render();
    window.__bench.renders.push(performance.now());
    return out;
  };
}
"""

# The same-run yardstick: parse a floor-sized JSON text, sort its objects.
WORKLOAD = """
(text) => {
  const runs = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const calls = JSON.parse(text);
    calls.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 :
      a.id < b.id ? -1 : 1));
    runs.push(performance.now() - t0);
  }
  runs.sort((a, b) => a - b);
  return runs[2];
}
"""


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1)


def host_cpu() -> tuple[float, float]:
    """Busy and total jiffies of the whole machine (/proc/stat)."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split()[1:9]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


async def live_calls(url: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        text = (await http.get("/metrics", headers=METRICS_HEADERS)).text
    match = re.search(r"^switchboard_telephony_live_calls ([0-9.e+]+)$", text, re.M)
    return int(float(match[1])) if match else 0


async def wait_for_floor(url: str) -> int:
    """Until the worker follows MIN_CALLS (bounded: 240 s; then as is)."""
    deadline = time.monotonic() + 240
    while (calls := await live_calls(url)) < MIN_CALLS:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(2.0)
    return calls


def search_latencies(inputs: list[float], renders: list[float]) -> list[float]:
    """Per input event: the first render after it, minus it."""
    out = []
    for at in inputs:
        done = next((r for r in renders if r >= at), None)
        if done is not None:
            out.append(done - at)
    return out


async def measure_page(page: Any) -> dict[str, Any]:
    await page.wait_for_function("window.__bench.shownAt !== null", timeout=120_000)
    bench = await page.evaluate("window.__bench")
    shown_ms = bench["shownAt"] - bench["openAt"]
    await page.evaluate(WATCH_RENDERS)
    busy0, total0 = host_cpu()
    since = await page.evaluate("performance.now()")
    live = await page.evaluate(FRAMES, LIVE_S * 1000)
    busy1, total1 = host_cpu()
    bench = await page.evaluate("window.__bench")
    loading = [d for s, d in bench["longtasks"] if s < since]
    during = [d for s, d in bench["longtasks"] if since <= s <= live["at"]]

    # Search: a customer's number, digit by digit, then erased.
    number = await page.evaluate(
        """() => { for (const c of window.switchboard.store.calls.values())
             if (c.customer && c.customer.number) return c.customer.number; }"""
    )
    digits = re.sub(r"\D", "", number or "4155550000")[-10:]
    search = page.get_by_label("Search calls")
    await search.click()
    await page.keyboard.type(digits, delay=KEY_DELAY_MS)
    for _ in digits:
        await page.keyboard.press("Backspace", delay=20)
        await asyncio.sleep(KEY_DELAY_MS / 1000)
    await asyncio.sleep(0.5)
    bench = await page.evaluate("window.__bench")
    searches = search_latencies(bench["inputs"], bench["renders"])
    floor_json = await page.evaluate(
        "JSON.stringify([...window.switchboard.store.calls.values()])"
    )
    return {
        "calls_shown": bench["shown"],
        "floor_shown_ms": round(shown_ms, 1),
        "frames": len(live["deltas"]),
        "frame_ms": {
            "p50": round(sorted(live["deltas"])[len(live["deltas"]) // 2], 1),
            "p95": p95(live["deltas"]),
            "max": round(max(live["deltas"]), 1),
        },
        "long_tasks_loading": {
            "count": len(loading),
            "over_100ms": sum(d > 100 for d in loading),
            "max_ms": round(max(loading, default=0), 1),
        },
        "long_tasks_live": {
            "count": len(during),
            "over_100ms": sum(d > 100 for d in during),
            "max_ms": round(max(during, default=0), 1),
        },
        "heap_mb": round(max(live["heap"], default=0) / 2**20, 1),
        "search_ms": {
            "keystrokes": len(searches),
            "p50": round(sorted(searches)[len(searches) // 2], 1) if searches else None,
            "p95": p95(searches),
            "max": round(max(searches, default=0), 1),
        },
        "host_cpu_busy_pct": round(100 * (busy1 - busy0) / max(total1 - total0, 1), 1),
        "_floor_json": floor_json,
    }


async def measure_baseline(browser: Any, floor_json: str) -> dict[str, Any]:
    page = await browser.new_page(viewport=FULL_HD)
    await page.goto("about:blank")
    blank = await page.evaluate(FRAMES, 5000)
    workload = await page.evaluate(WORKLOAD, floor_json)
    await page.close()
    return {
        "blank_frame_p95_ms": p95(blank["deltas"]),
        "json_parse_and_sort_ms": round(workload, 1),
        "json_bytes": len(floor_json.encode()),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a / max(b, 0.01), 1)


async def test_console_page_at_scale(tmp_path: Path) -> None:
    app = start_split_app(tmp_path, profile=PROFILE, speed=SPEED, seed_directory=True)
    expect.set_options(timeout=60_000)
    try:
        calls = await wait_for_floor(app.url)
        async with async_playwright() as p:
            browser, page = await logged_in(
                p,
                app,
                viewport=FULL_HD,
                args=["--enable-precise-memory-info"],
                init_script=INSTRUMENT,
            )
            try:
                ours = await measure_page(page)
                base = await measure_baseline(browser, ours.pop("_floor_json"))
            finally:
                await browser.close()
    finally:
        expect.set_options(timeout=5_000)
        app.stop()
    print(
        json.dumps(
            {
                "bench": "console_page",
                "profile": PROFILE,
                "speed": SPEED,
                "live_calls_at_start": calls,
                "viewport": "1920x1080",
                "page": ours,
                "baseline_same_browser": base,
                "ratio": {
                    "floor_shown_to_workload": ratio(
                        ours["floor_shown_ms"], base["json_parse_and_sort_ms"]
                    ),
                    "frame_p95_to_blank": ratio(
                        ours["frame_ms"]["p95"], base["blank_frame_p95_ms"]
                    ),
                    "search_p95_to_workload": ratio(
                        ours["search_ms"]["p95"], base["json_parse_and_sort_ms"]
                    ),
                },
                "targets": TARGETS,
            }
        ),
        flush=True,
    )
    assert ours["calls_shown"] > 0  # sanity, not a target
