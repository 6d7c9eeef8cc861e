"""The worker's inbox (`broadcast.WORKER_INBOX`): snapshot, health and
command requests from the dashboard processes, each answered on the
channel it names. It knows nothing of the worker: it is handed what to
answer with."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from telephony import broadcast
from telephony.live.views import AgentView, CallView
from telephony.redact import mask_numbers
from telephony.worker.commands import CommandDesk
from telephony.worker.oversight import Oversight
from telephony.worker.tasks import TaskSet

logger = logging.getLogger("telephony.worker.inbox")


class Snapshot(NamedTuple):
    """Everything the worker published up to `seq`."""

    seq: int
    calls: list[CallView]
    agents: list[AgentView]
    alerts: list[dict[str, Any]]
    attention: list[dict[str, Any]]
    queues: list[dict[str, Any]]


class Inbox:
    """Reads the worker's inbox until cancelled."""

    def __init__(
        self,
        *,
        layer: Any,
        epoch: str,
        snapshot: Callable[[], Snapshot],
        status: Callable[[], broadcast.JsonDict],
        health: Callable[[], broadcast.JsonDict],
        desk: CommandDesk,
        tasks: TaskSet,
        oversight: Oversight,
        floor_known: asyncio.Event | None = None,
    ) -> None:
        self.layer = layer
        # Set once the worker's model holds the floor (its first resync):
        # until then snapshot requests wait, so a console keeps the floor
        # it had instead of an empty one from a leader just taking over.
        self.floor_known = floor_known
        self.epoch = epoch
        self.snapshot = snapshot
        self.status = status
        self.health = health
        self.desk = desk
        self.tasks = tasks
        self.oversight = oversight

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
                # A command's params may hold a transfer destination: mask
                # before cutting, so no cut leaves a number's first digits.
                logger.exception(
                    "bad inbox message %.200s", mask_numbers(repr(message))
                )

    async def dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "telephony.snapshot_requested":
            if self.floor_known is not None and not self.floor_known.is_set():
                self.tasks.spawn(self._snapshot_when_known(message))
            else:
                await self._send_snapshot(message)
        elif kind == "telephony.health_requested":
            await broadcast.send_health(
                self.layer, channel=message["reply_to"], health=self.health()
            )
        elif kind == "telephony.command_requested":
            self.tasks.spawn(self.desk.execute(message))  # type: ignore[arg-type]
        elif kind == "telephony.viewing_reported":
            await self.oversight.viewing(
                console=message["console"],
                user=message["user"],
                session_id=message["session_id"],
            )
        elif kind == "telephony.alert_ack_requested":
            if not await self.oversight.acknowledge(
                message["alert_id"], user=message["user"]
            ):
                await broadcast.reply_error(
                    self.layer,
                    channel=message["reply_to"],
                    message="That alert is over: nothing to acknowledge.",
                )
        else:
            logger.warning("unknown inbox message type %r", kind)

    async def _snapshot_when_known(self, message: dict[str, Any]) -> None:
        assert self.floor_known is not None
        await self.floor_known.wait()
        await self._send_snapshot(message)

    async def _send_snapshot(self, message: dict[str, Any]) -> None:
        snap = self.snapshot()
        await broadcast.send_snapshot(
            self.layer,
            channel=message["reply_to"],
            epoch=self.epoch,
            seq=snap.seq,
            calls=snap.calls,
            agents=snap.agents,
            alerts=snap.alerts,
            attention=snap.attention,
            queues=snap.queues,
            status=self.status(),
        )
