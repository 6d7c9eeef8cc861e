"""Worker throughput and memory (issue 4 targets), each beside its target.

- parse + merge + publish: `TelephonyWorker.handle(parse_frame(raw))` on the
  captured real events, replayed as many distinct calls, published to a
  channel-layer group with one member. Target: >= 5,000 events/s, one core.
  Printed beside a same-run baseline (json.loads + json.dumps of the same
  frames) and the ratio, which holds from one machine to the next.
- model memory per live call with 5,000 live calls (tracemalloc).
  Target: <= 4 KB per call.
Run: make bench   (or .venv/bin/pytest -m bench -s tests/bench/bench_worker.py)
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc

import pytest
from channels.layers import InMemoryChannelLayer

from telephony import broadcast
from telephony.live.model import LiveModel
from telephony.ringcentral.client import RingCentralClient
from telephony.ringcentral.events import parse_frame
from telephony.worker import TelephonyWorker

pytestmark = pytest.mark.bench

from tests.support.paths import CAPTURED  # noqa: E402

COPIES = 400  # x 29 captured events


def frames(copies: int) -> list[str]:
    """The captured flows as WebSocket frames, renamed into distinct calls."""
    envelopes = []
    for path in sorted(CAPTURED.glob("*.json")):
        envelopes.extend(json.loads(path.read_text()))
    out = []
    for n in range(copies):
        for env in envelopes:
            raw = json.dumps(env)
            old = env["body"]["telephonySessionId"][2:]
            raw = raw.replace(old, f"{n:08x}{old[8:]}")
            raw = raw.replace(env["uuid"], f"{env['uuid']}{n}")
            header = {"type": "ServerNotification", "messageId": env["uuid"]}
            out.append(f"[{json.dumps(header)}, {raw}]")
    return out


def live_frames(calls: int) -> list[str]:
    """Frames that leave `calls` calls live: each flow up to its answer."""
    kept = []
    for raw in frames(calls // 3 + 1):
        status = json.loads(raw)[1]["body"]["parties"][0]["status"]["code"]
        if status not in ("Disconnected", "Gone", "Hold"):
            kept.append(raw)
    return kept


def baseline_events_per_s(raws: list[str]) -> float:
    """The same-run yardstick: `json.loads` + `json.dumps` of each frame, the
    least any worker must do per event. Machines of this kind differ
    several-fold in speed from day to day; the ratio does not."""
    gc.collect()
    started = time.process_time()
    for raw in raws:
        json.dumps(json.loads(raw))
    return len(raws) / (time.process_time() - started)


async def test_worker_throughput_and_memory():
    layer = InMemoryChannelLayer(capacity=10**7)
    member = await layer.new_channel()
    await layer.group_add(broadcast.SUPERVISORS, member)
    client = RingCentralClient(
        server_url="http://127.0.0.1:9", client_id="", client_secret="", jwt=""
    )
    worker = TelephonyWorker(client=client, layer=layer)
    raws = frames(COPIES)
    gc.collect()
    started_cpu, started = time.process_time(), time.perf_counter()
    for raw in raws:
        frame = parse_frame(raw)
        await worker.handle(frame)  # type: ignore[arg-type]
    cpu = time.process_time() - started_cpu
    wall = time.perf_counter() - started
    worker.tasks.cancel_all()
    baseline = baseline_events_per_s(raws)

    model = LiveModel()
    events = [parse_frame(raw).session for raw in live_frames(5000)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for event in events:
        model.apply(event)  # type: ignore[arg-type]
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    await client.aclose()
    result = {
        "benchmark": "worker",
        "events": len(raws),
        "parse_merge_publish_events_per_s_cpu": round(len(raws) / cpu),
        "parse_merge_publish_events_per_s_wall": round(len(raws) / wall),
        "baseline_json_loads_dumps_events_per_s_cpu": round(baseline),
        "ratio_to_baseline": round(len(raws) / cpu / baseline, 3),
        "target_events_per_s": 5000,
        "live_calls": len(model),
        "model_bytes_per_live_call": round(grown / max(len(model), 1)),
        "target_bytes_per_live_call": 4096,
    }
    print(json.dumps(result))
