"""What the worker adds to the floor for supervisors: alerts (with their
fix and who acknowledged them), who else is on each call, and each call
queue's figures for today.

Kept in the worker because it is the one place every dashboard process
reports to: an alert acknowledged on one console is acknowledged on all,
and supervisors on different daphnes see each other. Everything it
publishes goes out numbered like the calls (the worker's `publish`), so
each dashboard process keeps it in its copy of the floor. Thresholds and
the service-level settings come from the admin (QueueSettings) and are
re-read every SETTINGS_INTERVAL; today's figures from the call history
every FIGURES_INTERVAL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from channels.db import database_sync_to_async
from django.conf import settings

from telephony import broadcast
from telephony.history import services
from telephony.live.alerts import AlertBoard, AlertView, QueueFigures, settings_from
from telephony.live.attention import AttentionBoard, AttentionView
from telephony.live.views import AgentView, CallView

logger = logging.getLogger("telephony.worker.oversight")

EVALUATE_INTERVAL = 1.0
FIGURES_INTERVAL = 15.0
SETTINGS_INTERVAL = 30.0

Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


class Oversight:
    """Alerts, attention and queue figures, for one worker."""

    def __init__(
        self,
        *,
        publish: Publish,
        calls: Callable[[], Iterable[CallView]],
        agents: Callable[[], Iterable[AgentView]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.publish = publish  # (kind, payload): numbered and sent by the worker
        self.calls = calls
        self.agents = agents
        self.alerts = AlertBoard()
        self.attention = AttentionBoard(clock)
        self.queues: list[QueueFigures] = []

    def snapshot(
        self,
    ) -> tuple[list[AlertView], list[AttentionView], list[QueueFigures]]:
        return self.alerts.snapshot(), self.attention.snapshot(), list(self.queues)

    async def run(self) -> None:
        """Evaluate every second; read figures and settings now and then."""
        last_figures = last_settings = -1e9
        while True:
            now = time.monotonic()
            if now - last_settings >= SETTINGS_INTERVAL:
                last_settings = now
                await self._read_settings()
            if now - last_figures >= FIGURES_INTERVAL:
                last_figures = now
                await self._read_figures()
            try:
                await self.evaluate()
            except Exception:  # one bad evaluation must not end alerting
                logger.exception("could not evaluate the alerts")
            await asyncio.sleep(EVALUATE_INTERVAL)

    async def evaluate(self) -> None:
        for alert in self.alerts.evaluate(
            now=datetime.now(UTC),
            calls=self.calls(),
            agents=(a for a in self.agents() if a["availability"] == "dnd"),
            queues=self.queues,
        ):
            await self.publish("alert", dict(alert))
        for view in self.attention.expire():
            await self.publish("attention", dict(view))

    async def acknowledge(self, alert_id: str, *, user: str) -> bool:
        view = self.alerts.acknowledge(alert_id, user=user, now=datetime.now(UTC))
        if view is None:
            return False
        await self.publish("alert", dict(view))
        return True

    async def viewing(self, *, console: str, user: str, session_id: str | None) -> None:
        for view in self.attention.view(
            console=console, user=user, session_id=session_id
        ):
            await self.publish("attention", dict(view))

    async def command(self, request: broadcast.CommandRequested, busy: bool) -> None:
        """A supervisor's command started (or stopped) being under way."""
        if busy:
            view = self.attention.command(
                request_id=request["request_id"],
                session_id=request["session_id"],
                user=request["user"],
                action=request["action"],
            )
        else:
            settled = self.attention.settled(
                request_id=request["request_id"], session_id=request["session_id"]
            )
            if settled is None:
                return
            view = settled
        await self.publish("attention", dict(view))

    def call_ended(self, session_id: str) -> None:
        self.attention.ended(session_id)

    async def _read_settings(self) -> None:
        try:
            rows = await database_sync_to_async(services.queue_settings_rows)()
        except Exception:  # keep the last thresholds
            logger.exception("could not read the queue settings")
            return
        self.alerts.settings = settings_from(rows)

    async def _read_figures(self) -> None:
        current = self.alerts.settings
        levels = {"": (current.defaults.service_level_seconds,
                       current.defaults.service_level_target)}  # fmt: skip
        levels.update(
            (q, (t.service_level_seconds, t.service_level_target))
            for q, t in current.queues.items()
        )
        try:
            figures = await database_sync_to_async(services.queue_figures_today)(
                since=start_of_today(), settings=levels
            )
        except Exception:  # keep the last figures
            logger.exception("could not read today's queue figures")
            return
        before = {q["extension_id"]: q for q in self.queues}
        self.queues = figures
        for queue in figures:
            if before.get(queue["extension_id"]) != queue:
                await self.publish("queue", dict(queue))


def start_of_today() -> datetime:
    """Midnight in the site's time zone (TIME_ZONE), as an aware datetime."""
    zone = ZoneInfo(settings.TIME_ZONE)
    return datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
