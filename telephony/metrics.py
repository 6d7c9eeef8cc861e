"""Prometheus metrics of the telephony worker (default registry).

The worker updates the counters and histograms below where things happen;
figures it already keeps (live calls, reconnects, resyncs, connection,
events the live model dropped) are read at scrape time from the worker registered with
`watch(worker)`, so the hot path pays nothing for them.

Served by the dashboard's /metrics in `manage.py serve` (one process) and by
`manage.py telephony_worker --metrics-port` in the scaled deployment.
See docs/operations.md for what each metric means.
"""

from __future__ import annotations

import gc
import logging
import time
import weakref
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger("telephony.metrics")

EVENTS = Counter(
    "switchboard_telephony_events",
    "Telephony session notifications received from RingCentral.",
)
COMMANDS = Counter(
    "switchboard_telephony_commands",
    "Supervisor commands by action and outcome (accepted, rejected, failed).",
    ["action", "outcome"],
)
# Sub-millisecond when idle; the tail shows a slow channel layer (Redis).
PUBLISH_LATENCY = Histogram(
    "switchboard_telephony_publish_latency_seconds",
    "From receipt of a telephony event to its broadcast being sent.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
GC_PAUSE = Histogram(
    "switchboard_gc_pause_seconds",
    "How long each garbage collection held this process (telephony.gc_policy).",
    ["generation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
GC_FREEZES = Counter(
    "switchboard_gc_freezes",
    "Times telephony.gc_policy froze this process's settled objects.",
)
GC_FROZEN = Gauge(
    "switchboard_gc_frozen_objects",
    "Objects in the permanent generation, which collections skip.",
)
GC_FROZEN.set_function(gc.get_freeze_count)
HISTORY_WRITE_SECONDS = Histogram(
    "switchboard_history_batch_write_seconds",
    "Duration of one call-history batch write (one transaction).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HISTORY_WRITE_FAILURES = Counter(
    "switchboard_history_batch_failures",
    "Call-history batch writes that failed (retried at the next flush).",
)
HISTORY_PENDING = Gauge(
    "switchboard_history_pending_calls",
    "Calls with news not yet written to the call history.",
)
HISTORY_DROPPED = Counter(
    "switchboard_history_dropped_calls",
    "Calls whose unwritten history was dropped because the buffer was full.",
)
AUDIT_BACKLOG = Gauge(
    "switchboard_audit_backlog_rows",
    "Audit rows waiting for the database (it was away); written in order when back.",
)
AUDIT_DROPPED = Counter(
    "switchboard_audit_dropped_rows",
    "Audit rows dropped because the backlog was full (the database away too long).",
)
JOURNAL_DROPPED = Counter(
    "switchboard_journal_dropped_changes",
    "Published changes the call journal dropped unwritten (its buffer was full).",
)

LEADING = Gauge(
    "switchboard_telephony_leading",
    "1 while this worker process holds the lease (leads), 0 while standing by.",
)
LEASE_GENERATION = Gauge(
    "switchboard_telephony_lease_generation",
    "The lease generation this worker process leads with (0: standing by).",
)


class Watched(Protocol):
    """What `watch` reads: TelephonyWorker (health() and model)."""

    model: Any

    def health(self) -> dict[str, Any]: ...


_watched: weakref.ref[Watched] | None = None


def watch(worker: Watched) -> None:
    """Report this worker's figures at scrape time (the latest one wins)."""
    global _watched
    _watched = weakref.ref(worker)


def unwatch(worker: Watched) -> None:
    """Stop reporting `worker` (its term of leadership ended)."""
    global _watched
    if _watched is not None and _watched() is worker:
        _watched = None


def publish_observed(received_at: float) -> None:
    """Record the latency of one broadcast; `received_at` from perf_counter()."""
    PUBLISH_LATENCY.observe(time.perf_counter() - received_at)


def leadership_changed(*, leading: bool, generation: int | None) -> None:
    """This process took the lease (with `generation`) or stands by."""
    LEADING.set(1 if leading else 0)
    LEASE_GENERATION.set(generation or 0)


def command_done(*, action: str, outcome: str) -> None:
    """Count one supervisor command (outcome: accepted, rejected, failed)."""
    COMMANDS.labels(action=action, outcome=outcome).inc()


class _WorkerCollector(Collector):
    """Reads the watched worker when Prometheus scrapes."""

    def collect(self) -> Iterator[Metric]:
        worker = _watched() if _watched is not None else None
        if worker is None:
            return
        try:
            health = worker.health()
            model = worker.model
            dropped = {
                "stale": getattr(model, "dropped_stale", 0),
                "duplicate": getattr(model, "dropped_duplicate", 0),
            }
        except Exception:  # a scrape must never take the worker down
            logger.exception("could not read the worker's figures")
            return
        yield _gauge(
            "switchboard_telephony_live_calls",
            "Calls in progress in the worker's live model.",
            health["live_calls"],
        )
        yield _gauge(
            "switchboard_telephony_connected",
            "1 while the worker's WebSocket to RingCentral is connected.",
            1 if health["connected"] else 0,
        )
        since = health.get("seconds_since_last_event")
        if since is not None:
            yield _gauge(
                "switchboard_telephony_seconds_since_last_event",
                "Seconds since the last notification from RingCentral.",
                since,
            )
        yield _counter(
            "switchboard_telephony_reconnects",
            "WebSocket reconnections to RingCentral since the worker started.",
            health.get("reconnects", 0),
        )
        yield _counter(
            "switchboard_telephony_resyncs",
            "Completed resyncs of the live calls with RingCentral's REST view.",
            health.get("resyncs", 0),
        )
        if health.get("leader"):
            leader = GaugeMetricFamily(
                "switchboard_telephony_leader",
                "Which worker leads (hostname:pid); the value is its generation.",
                labels=["leader"],
            )
            leader.add_metric([str(health["leader"])], health.get("generation") or 0)
            yield leader
        drops = CounterMetricFamily(
            "switchboard_telephony_events_dropped",
            "Events the live model dropped, by reason (stale, duplicate).",
            labels=["reason"],
        )
        for reason, count in dropped.items():
            drops.add_metric([reason], count)
        yield drops


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


REGISTRY.register(_WorkerCollector())
