"""The telephony worker: the only holder of the RingCentral session.

stream -> events -> live model -> broadcast; commands in over the channel
layer -> client -> reply. One worker per account; it runs alone
(`manage.py telephony_worker`) or inside `manage.py serve`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from telephony import broadcast, commands
from telephony.client import RingCentralClient
from telephony.events import Notification, parse_call_session
from telephony.exceptions import (
    AuthenticationFailed,
    TelephonyError,
    TelephonyRejected,
)
from telephony.state import Change, LiveModel
from telephony.stream import Connected, backoff, iter_stream

logger = logging.getLogger("telephony.worker")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TelephonyWorker:
    """Follow the account's telephony sessions and serve the consoles."""

    def __init__(
        self,
        *,
        client: RingCentralClient,
        layer: Any,
        model: LiveModel | None = None,
        reconnect_delays: Callable[[], Iterator[float]] = backoff,
    ) -> None:
        self.client = client
        self.layer = layer
        self.model = model or LiveModel()
        self.reconnect_delays = reconnect_delays
        self.connections = 0
        self.fatal: AuthenticationFailed | TelephonyRejected | None = None
        self.status: dict[str, Any] = {"connected": False, "error": None, "since": None}
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Serve the inbox and follow the stream until cancelled.

        A fatal error (bad credentials) stops the stream but not the inbox,
        so consoles keep getting a snapshot that says what is wrong.
        """
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._serve_inbox())
                group.create_task(self.follow_stream())
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def follow_stream(self) -> None:
        try:
            async for item in iter_stream(
                open_url=self.client.ws_url, reconnect_delays=self.reconnect_delays
            ):
                if isinstance(item, Connected):
                    await self._on_connected()
                else:
                    await self.handle(item)
        except (AuthenticationFailed, TelephonyRejected) as exc:
            self.fatal = exc
            logger.error(
                "RingCentral refused the worker (%s %s: %s); check RINGCENTRAL_* "
                "settings. Not retrying.",
                exc.status,
                exc.error_code,
                exc.message,
            )
            await self._set_status(connected=False, error=describe_fatal(exc))

    async def handle(self, notification: Notification) -> None:
        """Apply one notification to the model and publish what changed."""
        if notification.session is None:
            return
        try:
            change = self.model.apply(notification.session)
        except Exception:  # one bad event must not stop the floor
            logger.exception("could not apply %s", notification.uuid)
            return
        await self._publish(change)

    async def _publish(self, change: Change | None) -> None:
        if change is not None:
            await broadcast.publish_call_changed(
                self.layer, kind=change.kind, seq=change.version, call=change.call
            )

    async def _on_connected(self) -> None:
        self.connections += 1
        await self._set_status(connected=True, error=None)
        if self.connections > 1:
            await self.reconcile()

    async def reconcile(self) -> None:
        """Re-read every known call after a reconnect: events may be lost."""
        _, calls = self.model.snapshot()
        for call in calls:
            try:
                body = await self.client.get_session(call["id"])
            except TelephonyRejected as exc:
                if exc.status == 404:
                    await self._publish(self.model.remove(call["id"]))
                continue
            except TelephonyError as exc:
                logger.warning("reconcile %s: %s", call["id"], exc)
                continue
            snap = parse_call_session(body)
            await self._publish(self.model.load_session(snap, now=datetime.now(UTC)))

    async def _set_status(self, *, connected: bool, error: str | None) -> None:
        self.status = {"connected": connected, "error": error, "since": now_iso()}
        await broadcast.publish_worker_status(
            self.layer, seq=self.model.version, status=self.status
        )

    async def _serve_inbox(self) -> None:
        while True:
            message = await self.layer.receive(broadcast.WORKER_INBOX)
            try:
                await self._dispatch(message)
            except Exception:
                logger.exception("bad inbox message %.200r", message)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "telephony.snapshot_requested":
            version, calls = self.model.snapshot()
            await broadcast.send_snapshot(
                self.layer,
                channel=message["reply_to"],
                seq=version,
                calls=calls,
                status=self.status,
            )
        elif kind == "telephony.command_requested":
            self._spawn(self._command(message))  # type: ignore[arg-type]
        else:
            logger.warning("unknown inbox message type %r", kind)

    async def _command(self, request: broadcast.CommandRequested) -> None:
        if self.fatal is not None:
            await broadcast.reply_command(
                self.layer,
                channel=request["reply_to"],
                request_id=request["request_id"],
                ok=False,
                action=request["action"],
                session_id=request["session_id"],
                message=f"Not connected to RingCentral: {describe_fatal(self.fatal)}",
            )
            return
        await commands.execute(client=self.client, layer=self.layer, request=request)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("command task failed", exc_info=task.exception())


def describe_fatal(exc: TelephonyRejected) -> str:
    code = f" {exc.error_code}" if exc.error_code else ""
    what = "the credentials" if isinstance(exc, AuthenticationFailed) else "the worker"
    return f"RingCentral rejected {what} ({exc.status}{code}: {exc.message})"
