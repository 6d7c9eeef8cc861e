"""The worker's inbox (`broadcast.WORKER_INBOX`): snapshot, health and
command requests from the dashboard processes, each answered on the
channel it names. It knows nothing of the worker: it is handed what to
answer with."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from telephony import broadcast
from telephony.live.views import CallView
from telephony.worker.commands import CommandDesk
from telephony.worker.tasks import TaskSet

logger = logging.getLogger("telephony.worker.inbox")

Snapshot = Callable[[], tuple[int, list[CallView]]]


class Inbox:
    """Reads the worker's inbox until cancelled."""

    def __init__(
        self,
        *,
        layer: Any,
        epoch: str,
        snapshot: Snapshot,
        status: Callable[[], broadcast.JsonDict],
        health: Callable[[], broadcast.JsonDict],
        desk: CommandDesk,
        tasks: TaskSet,
    ) -> None:
        self.layer = layer
        self.epoch = epoch
        self.snapshot = snapshot
        self.status = status
        self.health = health
        self.desk = desk
        self.tasks = tasks

    async def serve(self) -> None:
        while True:
            try:
                message = await self.layer.receive(broadcast.WORKER_INBOX)
            except Exception:  # e.g. Redis restarting: wait, do not die
                logger.exception("cannot read the worker inbox; retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            try:
                await self.dispatch(message)
            except Exception:
                logger.exception("bad inbox message %.200r", message)

    async def dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "telephony.snapshot_requested":
            version, calls = self.snapshot()
            await broadcast.send_snapshot(
                self.layer,
                channel=message["reply_to"],
                epoch=self.epoch,
                seq=version,
                calls=calls,
                status=self.status(),
            )
        elif kind == "telephony.health_requested":
            await broadcast.send_health(
                self.layer, channel=message["reply_to"], health=self.health()
            )
        elif kind == "telephony.command_requested":
            self.tasks.spawn(self.desk.execute(message))  # type: ignore[arg-type]
        else:
            logger.warning("unknown inbox message type %r", kind)
