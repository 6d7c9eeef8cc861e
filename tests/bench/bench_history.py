"""History's cost to the live path, and floor replay's start (issue 12).

- publish latency: the worker handles the captured real events, paced at
  ~300 events/s, with its history writer and call journal flushing to the
  database behind it; once as the database is, once with every history,
  journal and audit write slowed by 200 ms (same run). The latency of
  `handle` (event in -> published) must not move: writes never delay the
  live path. Figures: p50/p99 ms of each phase and their ratio.
- replay start: a journal of BENCH_REPLAY_MINUTES (default 10; 60 for the
  issue's hour) of a 300 events/s floor of ~2,000 live calls, floor marks
  every minute; the time to answer /replay/floor.json at a moment in the
  middle (the selector plus the wire form), beside a same-run baseline:
  reading the same number of stored states by primary key. The start cost
  is bounded by the mark interval (at most a minute of events is read),
  not by the window's length. Target: under 2 s.

Run: make bench   (or .venv/bin/pytest -m bench -s tests/bench/bench_history.py)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer

from dashboard import protocol
from dashboard.selectors import floor_at_get
from telephony import broadcast
from telephony.history import services
from telephony.live.model import LiveModel
from telephony.models import CallEvent
from telephony.ringcentral.client import RingCentralClient
from telephony.ringcentral.events import parse_frame
from telephony.worker import TelephonyWorker
from tests.bench.bench_worker import frames, live_frames

pytestmark = pytest.mark.bench

RATE = 300  # events per second
SLOW = 0.2  # seconds added to every history, journal and audit write


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def paced_latencies(worker: TelephonyWorker, raws: list[str]) -> list[float]:
    """Handle each frame at RATE per second; each one's latency (ms)."""
    latencies = []
    began = time.perf_counter()
    for n, raw in enumerate(raws):
        due = began + n / RATE
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)  # pacing the load, not synchronising
        started = time.perf_counter()
        await worker.handle(parse_frame(raw))  # type: ignore[arg-type]
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def slowed(function: Any) -> Any:
    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(SLOW)
        return function(*args, **kwargs)

    return slow


@pytest.mark.django_db(transaction=True)
async def test_history_never_delays_the_live_path(monkeypatch):
    layer = InMemoryChannelLayer(capacity=10**7)
    member = await layer.new_channel()
    await layer.group_add(broadcast.SUPERVISORS, member)
    client = RingCentralClient(
        server_url="http://127.0.0.1:9", client_id="", client_secret="", jwt=""
    )
    raws = frames(int(os.environ.get("BENCH_HISTORY_COPIES", "100")))
    phases: dict[str, list[float]] = {}
    for phase in ("database as is", "every write slowed by 200 ms"):
        if phase != "database as is":
            for name in ("call_history_apply", "call_events_append"):
                monkeypatch.setattr(services, name, slowed(getattr(services, name)))
            monkeypatch.setattr(
                services,
                "command_audit_create",
                slowed(services.command_audit_create),
            )
        worker = TelephonyWorker(client=client, layer=layer)
        worker.journal.flush_interval = 1.0
        behind = [
            asyncio.create_task(worker.history.run()),
            asyncio.create_task(worker.journal.run()),
        ]
        phases[phase] = await paced_latencies(worker, raws)
        written_before = worker.journal.pending
        for task in behind:
            task.cancel()
        worker.tasks.cancel_all()
        await worker.journal.flush()
        await worker.history.flush()
        phases[phase + " (unwritten at the end)"] = [float(written_before)]
    await client.aclose()
    stored = await database_sync_to_async(CallEvent.objects.count)()
    normal, slow = phases["database as is"], phases["every write slowed by 200 ms"]
    result = {
        "benchmark": "history_vs_live_path",
        "events_per_phase": len(raws),
        "rate_events_per_s": RATE,
        "handle_ms_p50": round(statistics.median(normal), 3),
        "handle_ms_p99": round(percentile(normal, 0.99), 3),
        "slowed_db_handle_ms_p50": round(statistics.median(slow), 3),
        "slowed_db_handle_ms_p99": round(percentile(slow, 0.99), 3),
        "ratio_p99_slowed_to_normal": round(
            percentile(slow, 0.99) / percentile(normal, 0.99), 3
        ),
        "journal_events_stored": stored,
        "journal_unwritten_when_load_stopped": {
            k.split(" (")[0]: int(v[0]) for k, v in phases.items() if "unwritten" in k
        },
    }
    print(json.dumps(result))


def template_calls(count: int) -> list[Any]:
    """Real CallViews (the captured flows), cloned into `count` calls."""
    model = LiveModel()
    for raw in live_frames(40):
        model.apply(parse_frame(raw).session)  # type: ignore[arg-type]
    base = model.snapshot()[1]
    calls = []
    for n in range(count):
        call = json.loads(json.dumps(base[n % len(base)]))
        call["id"] = f"s-bench{n:08d}"
        calls.append(call)
    return calls


def generate_journal(minutes: int, live: int, start: datetime) -> datetime:
    """`minutes` of RATE changes a second over `live` calls, marked every
    minute; returns the end."""
    calls = template_calls(live)
    latest: dict[str, int] = {}
    step = timedelta(seconds=1 / RATE)
    at = start
    for minute in range(minutes):
        entries = []
        for n in range(60 * RATE):
            call = calls[(minute * 60 * RATE + n) % live]
            entries.append(
                {"at": at, "session_id": call["id"], "kind": "updated", "call": call}
            )
            at += step
        ids = services.call_events_append(entries=entries)
        for entry, event_id in zip(entries, ids, strict=True):
            latest[entry["session_id"]] = event_id
        services.floor_mark_create(at=at, events=sorted(latest.values()))
    return at


@pytest.mark.django_db(transaction=True)
def test_replay_starts_fast_on_a_long_busy_journal():
    minutes = int(os.environ.get("BENCH_REPLAY_MINUTES", "10"))
    live = 2000
    start = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    began = time.perf_counter()
    end = generate_journal(minutes, live, start)
    generated = time.perf_counter() - began
    middle = start + (end - start) / 2 + timedelta(seconds=30)  # between marks
    timings, sizes = [], []
    for _ in range(3):
        began = time.perf_counter()
        calls = [protocol.call_wire(c) for c in floor_at_get(at=middle)]
        body = json.dumps({"calls": calls})
        timings.append(time.perf_counter() - began)
        sizes.append(len(calls))
    # Baseline: the same number of stored states read by primary key.
    ids = list(CallEvent.objects.order_by("-pk").values_list("pk", flat=True)[:live])
    baseline = []
    for _ in range(3):
        began = time.perf_counter()
        rows = list(CallEvent.objects.filter(pk__in=ids).values_list("call", flat=True))
        json.dumps([protocol.call_wire(c) for c in rows])
        baseline.append(time.perf_counter() - began)
    result = {
        "benchmark": "replay_start",
        "journal_minutes": minutes,
        "journal_events": minutes * 60 * RATE,
        "generated_in_s": round(generated, 1),
        "live_calls_at_the_moment": sizes[0],
        "floor_json_bytes": len(body),
        "replay_start_s_best": round(min(timings), 3),
        "replay_start_s_worst": round(max(timings), 3),
        "baseline_read_same_calls_by_pk_s": round(min(baseline), 3),
        "ratio_to_baseline": round(min(timings) / min(baseline), 2),
        "target_s": 2.0,
    }
    print(json.dumps(result))
