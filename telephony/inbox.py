"""The worker's inbox: snapshot, health and command requests from consoles,
and the confirmation of accepted commands by the telephony event that
should follow them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telephony import broadcast, commands
from telephony.state import CallDict, Change

if TYPE_CHECKING:
    from telephony.worker import TelephonyWorker

logger = logging.getLogger("telephony.inbox")

# How long an accepted command may wait for its confirming event.
CONFIRM_TIMEOUT = 10.0


@dataclass(slots=True)
class Pending:
    request: broadcast.CommandRequested
    confirmed: Callable[[str, CallDict], bool]
    accepted: bool = False  # RingCentral answered 2xx
    done: bool = False  # the confirming change was seen
    timer: asyncio.TimerHandle | None = None


class Inbox:
    """Serves `broadcast.WORKER_INBOX` for one worker."""

    def __init__(
        self,
        worker: TelephonyWorker,
        *,
        confirm_timeout: float = CONFIRM_TIMEOUT,
        supervisor_device_id: str | None = None,
    ) -> None:
        self.worker = worker
        self.confirm_timeout = confirm_timeout
        self.supervisor_device_id = supervisor_device_id
        self._pending: dict[str, list[Pending]] = {}  # by session id

    async def serve(self) -> None:
        layer = self.worker.layer
        while True:
            try:
                message = await layer.receive(broadcast.WORKER_INBOX)
            except Exception:  # e.g. Redis restarting: wait, do not die
                logger.exception("cannot read the worker inbox; retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            try:
                await self.dispatch(message)
            except Exception:
                logger.exception("bad inbox message %.200r", message)

    async def dispatch(self, message: dict[str, Any]) -> None:
        kind, worker = message.get("type"), self.worker
        if kind == "telephony.snapshot_requested":
            version, calls = worker.model.snapshot()
            await broadcast.send_snapshot(
                worker.layer,
                channel=message["reply_to"],
                epoch=worker.epoch,
                seq=version,
                calls=calls,
                status=worker.status,
            )
        elif kind == "telephony.health_requested":
            await broadcast.send_health(
                worker.layer, channel=message["reply_to"], health=worker.health()
            )
        elif kind == "telephony.command_requested":
            worker._spawn(self.command(message))  # type: ignore[arg-type]
        else:
            logger.warning("unknown inbox message type %r", kind)

    async def command(self, request: broadcast.CommandRequested) -> None:
        worker = self.worker
        if worker.fatal is not None:
            from telephony.worker import describe_fatal

            await broadcast.reply_command(
                worker.layer,
                channel=request["reply_to"],
                request_id=request["request_id"],
                ok=False,
                action=request["action"],
                session_id=request["session_id"],
                message=f"Not connected to RingCentral: {describe_fatal(worker.fatal)}",
            )
            return
        session_id = request["session_id"]
        before = worker.model.get(session_id)
        pending = Pending(
            request,
            commands.expectation(
                request["action"],
                request["party_id"],
                request.get("params") or {},
                before,
            ),
        )
        # Listen before calling: the confirming event can beat the reply.
        self._pending.setdefault(session_id, []).append(pending)
        ctx = commands.Context(
            client=worker.client,
            supervisor_device_id=self.supervisor_device_id,
            call=before,
        )
        accepted = False
        try:
            accepted = await commands.execute(
                ctx=ctx, layer=worker.layer, request=request
            )
        finally:
            if not accepted:  # rejected, or execute() itself failed
                self._drop(session_id, pending)
        if not accepted:
            return
        pending.accepted = True
        if pending.done:
            await self._send(pending, True)
        else:
            pending.timer = asyncio.get_running_loop().call_later(
                self.confirm_timeout, self._expire, session_id, pending
            )

    def confirm(self, change: Change) -> None:
        """Called for every published change: settle the commands it proves."""
        waiting = self._pending.get(change.call["id"])
        if not waiting:
            return
        for pending in list(waiting):
            if pending.confirmed(change.kind, change.call):
                pending.done = True
                self._drop(change.call["id"], pending)
                if pending.accepted:  # else command() sends after the reply
                    if pending.timer is not None:
                        pending.timer.cancel()
                    self.worker._spawn(self._send(pending, True))

    def _expire(self, session_id: str, pending: Pending) -> None:
        if pending in self._pending.get(session_id, []):
            self._drop(session_id, pending)
            self.worker._spawn(self._send(pending, False))

    def _drop(self, session_id: str, pending: Pending) -> None:
        waiting = self._pending.get(session_id, [])
        if pending in waiting:
            waiting.remove(pending)
        if not waiting:
            self._pending.pop(session_id, None)

    async def _send(self, pending: Pending, confirmed: bool) -> None:
        request = pending.request
        label = commands.LABELS.get(request["action"], "Command")
        if confirmed:
            message = f"{label}: confirmed by RingCentral's telephony event."
        else:
            message = (
                f"{label}: RingCentral accepted it, but no telephony event "
                f"confirmed it within {self.confirm_timeout:.0f} s."
            )
        await broadcast.confirm_command(
            self.worker.layer,
            channel=request["reply_to"],
            request_id=request["request_id"],
            confirmed=confirmed,
            message=message,
        )
