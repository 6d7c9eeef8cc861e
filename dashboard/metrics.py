"""Prometheus figures of this process's live feed (dashboard.feed), read at
scrape time from the feeds themselves, so the hot path pays nothing.
Served by /metrics with the worker's (telephony.metrics); docs/operations.md
says what each means."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger("dashboard.metrics")


class FeedCollector(Collector):
    """Sums the figures of every live feed of this process."""

    def __init__(self, feeds: Callable[[], Iterable[Any]]) -> None:
        self.feeds = feeds

    def collect(self) -> Iterator[Metric]:
        try:
            feeds = list(self.feeds())
            links = [link for feed in feeds for link in feed.links.values()]
            figures = {
                "consoles": len(links),
                "behind": sum(1 for link in links if link.state == "behind"),
                "calls": sum(len(feed.mirror) for feed in feeds),
                "frames": sum(feed.frames_sent for feed in feeds),
                "cut": sum(feed.cut_loose for feed in feeds),
                "reloads": sum(feed.reloads for feed in feeds),
                "fenced": sum(feed.fenced for feed in feeds),
                "generation": max((feed.generation for feed in feeds), default=0),
                "leader": next(
                    (
                        str(feed.mirror.worker["leader"])
                        for feed in feeds
                        if (feed.mirror.worker or {}).get("leader")
                    ),
                    None,
                ),
            }
        except Exception:  # a scrape must never break the feed
            logger.exception("could not read the live feed's figures")
            return
        yield GaugeMetricFamily(
            "switchboard_feed_consoles",
            "Consoles served by this process's live feed.",
            value=figures["consoles"],
        )
        yield GaugeMetricFamily(
            "switchboard_feed_consoles_behind",
            "Consoles whose unsent data passed the high-water mark.",
            value=figures["behind"],
        )
        yield GaugeMetricFamily(
            "switchboard_feed_live_calls",
            "Live calls in this process's copy of the floor.",
            value=figures["calls"],
        )
        yield CounterMetricFamily(
            "switchboard_feed_frames_written",
            "Frames written to consoles' sockets (snapshot parts and deltas).",
            value=figures["frames"],
        )
        yield CounterMetricFamily(
            "switchboard_feed_consoles_cut_loose",
            "Consoles dropped for staying behind (not reading) too long.",
            value=figures["cut"],
        )
        yield CounterMetricFamily(
            "switchboard_feed_floor_loads",
            "Snapshots this process asked of the worker (start, gap, restart).",
            value=figures["reloads"],
        )
        yield CounterMetricFamily(
            "switchboard_feed_fenced_messages",
            "Worker messages dropped for a lease generation below the highest seen.",
            value=figures["fenced"],
        )
        leader = GaugeMetricFamily(
            "switchboard_feed_worker_leader",
            "The worker that leads as this process last heard (hostname:pid); "
            "the value is its lease generation.",
            labels=["leader"],
        )
        if figures["leader"] is not None:
            leader.add_metric([figures["leader"]], figures["generation"])
        yield leader


def watch(feeds: Callable[[], Iterable[Any]]) -> None:
    REGISTRY.register(FeedCollector(feeds))
