"""The call history's CSV export over 100,000 finished calls: peak memory
(issue 12 target: under 100 MB of growth) and speed. One JSON line.

100,000 CallRecords are bulk-created in a SQLite file; then each way of
exporting runs in a fresh Python process (nothing else has grown it yet)
that logs in as a Supervisor and reads /history/export.csv through the
real view and URL:

- streamed_wsgi: Django's test Client (the WSGI path), the body read
  chunk by chunk as a browser would;
- streamed_asgi: Django's AsyncClient (the ASGI path, as daphne serves
  it: the body is an async iterator over `aiterator`);
- and, in the same run, two baselines: `empty` (the same export matching
  no call: what importing and one request cost) and `buffered` (the naive
  export: every row as a model instance, the CSV built whole in memory).

Growth is the process's resident set above what it held just before the
request: `sampled_growth_mb` the most /proc/self/status showed (every
2,000 lines), `peak_growth_mb` the kernel's high-water mark (ru_maxrss)
minus it: an upper bound, since start-up already left the mark above the
resident set (`peak_before_mb`). The target is checked on the larger.
Measured 2026-11-29 (SQLite, 2 cores): streamed 4.9 MB (WSGI) and 9.2 MB
(ASGI) sampled, at most 12.3 MB peak, 2.4-2.6 s; buffered 110.6 MB
sampled, 245.4 MB peak.
Run: .venv/bin/pytest -m bench -q -s tests/bench/bench_history_export.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.served import ROOT

pytestmark = pytest.mark.bench

ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "100000"))
TARGET_MB = 100

GENERATE = """
import random
from datetime import UTC, datetime, timedelta
from django.contrib.auth.models import Group, User
from telephony.models import CallRecord

rng = random.Random(12)
start = datetime(2026, 11, 1, tzinfo=UTC)
results = ["answered", "answered", "answered", "missed", "abandoned", "voicemail",
           "transferred"]
batch = []
for i in range({rows}):
    at = start + timedelta(seconds=i * 26)  # a month of calls
    ring, talk, hold = rng.uniform(1, 40), rng.uniform(20, 900), rng.uniform(0, 60)
    batch.append(CallRecord(
        telephony_session_id=f"s-{{i:08d}}-5d564867a6f635fd81e89940",
        session_id=str(10**9 + i), origin="Call",
        direction=rng.choice(["Inbound", "Outbound", "Internal"]),
        started_at=at, answered_at=at + timedelta(seconds=ring),
        ended_at=at + timedelta(seconds=ring + talk + hold),
        ring_seconds=ring, talk_seconds=talk, hold_seconds=hold,
        hold_count=rng.randint(0, 3),
        agent_extension_id=str(1000000100 + i % 300),
        agent_name=f"Agent Number {{i % 300}}", agent_number=f"+1650555{{i % 300:04d}}",
        customer_number=f"+1415{{rng.randint(0, 9999999):07d}}",
        customer_name=rng.choice(["WIRELESS CALLER", "Jane Doe", "=cmd|' /C calc'!A0"]),
        queue_name=rng.choice(["Sales", "Support", "Billing"]),
        queue_extension_id="1000000201",
        recordings=[f"rec-{{i}}"] if i % 4 == 0 else [],
        result=rng.choice(results), final_reason="CallerHungUp",
        last_seen_at=at, ended=True,
    ))
    if len(batch) == 5000:
        CallRecord.objects.bulk_create(batch)
        batch = []
CallRecord.objects.bulk_create(batch)
user = User.objects.create_user("bench-supervisor", password="unused-pw-1")
user.groups.add(Group.objects.get(name="Supervisor"))
"""

MEASURE = r"""
import asyncio, gc, json, resource, sys, time
import django
django.setup()
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

mode = sys.argv[1]

def rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

user = User.objects.get(username="bench-supervisor")
# Warm up imports, the URL resolver and the templates on an empty export.
warm = Client()
warm.force_login(user)
b"".join(warm.get("/history/export.csv?number=no-such-number").streaming_content)
gc.collect()
before, peak_before = rss_mb(), peak_mb()
sampled = before
lines = size = 0
started = time.perf_counter()

def count(chunk):
    global lines, size, sampled
    lines += 1
    size += len(chunk)
    if lines % 2000 == 0:
        sampled = max(sampled, rss_mb())

if mode in ("streamed_wsgi", "empty"):
    client = Client()
    client.force_login(user)
    query = "?number=no-such-number" if mode == "empty" else ""
    for chunk in client.get("/history/export.csv" + query).streaming_content:
        count(chunk)
elif mode == "streamed_asgi":
    async def main():
        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.get("/history/export.csv")
        async for chunk in response.streaming_content:
            count(chunk)
    asyncio.run(main())
elif mode == "buffered":
    import csv, io
    from telephony.models import CallRecord
    out = io.StringIO()
    writer = csv.writer(out)
    for call in list(CallRecord.objects.filter(ended=True).order_by("-started_at")):
        writer.writerow([getattr(call, f.attname) for f in CallRecord._meta.fields])
    body = out.getvalue().encode()
    for line in body.splitlines():
        count(line)
seconds = time.perf_counter() - started
sampled = max(sampled, rss_mb())
print(json.dumps({
    "mode": mode, "lines": lines, "bytes": size, "seconds": round(seconds, 2),
    "rss_before_mb": round(before, 1), "peak_before_mb": round(peak_before, 1),
    "peak_growth_mb": round(peak_mb() - before, 1),
    "sampled_growth_mb": round(sampled - before, 1),
}))
"""


def _env(db: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "DJANGO_SECRET_KEY": "bench-only",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "PYTHONPATH": str(ROOT),
    }


def test_history_export_of_100000_calls_streams_in_flat_memory(tmp_path: Path):
    env = _env(tmp_path / "db.sqlite3")
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    subprocess.run(
        [python, "manage.py", "shell", "-c", GENERATE.format(rows=ROWS)],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=900,
    )
    runs = {}
    for mode in ("empty", "streamed_wsgi", "streamed_asgi", "buffered"):
        done = subprocess.run(
            [python, "-c", MEASURE, mode],
            cwd=ROOT,
            env=env,
            timeout=900,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    worst = max(
        runs[m][k]
        for m in ("streamed_wsgi", "streamed_asgi")
        for k in ("peak_growth_mb", "sampled_growth_mb")
    )
    print(
        json.dumps(
            {
                "benchmark": "history_export",
                "calls": ROWS,
                "target_growth_mb": TARGET_MB,
                "streamed_growth_mb": worst,
                "runs": runs,
            }
        )
    )
    for mode in ("streamed_wsgi", "streamed_asgi"):
        assert runs[mode]["lines"] == ROWS + 1  # the header and every call
    assert worst < TARGET_MB
