"""The supervisor console's WebSocket: snapshot, live deltas, commands.

Thin by design: authenticate, join the process's live feed (dashboard.feed,
which writes the worker's updates to every local console), ask the worker
for a snapshot, and hand commands to the worker over the channel layer.
Never calls RingCentral itself.

Browser protocol (JSON):
  server -> browser: snapshot {epoch, seq, calls, worker},
      call_updated {epoch, seq, call}, call_ended {epoch, seq, call},
      worker_status {epoch, worker},
      command_result {requestId, ok, message, errorCode, status, retryAfter},
      command_confirmed {requestId, confirmed, message},
      error {message}
  browser -> server: command {requestId, action, sessionId, partyId, params?},
      resync {}
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model

from dashboard.feed import feed_for
from telephony import broadcast

logger = logging.getLogger("dashboard.consumers")

# Ids are opaque to us, but they travel into RingCentral URLs: allow only
# the characters RingCentral uses and a sane length.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:=-]{1,128}$")


# What a command may carry besides the party: a recording to pause/resume,
# or one transfer target. Values are short strings.
PARAM_NAMES = (
    "recordingId",
    "extensionNumber",
    "phoneNumber",
    "voicemail",
    "parkOrbit",
)
PARAM_PATTERN = re.compile(r"^[A-Za-z0-9_.:=*#+-]{1,64}$")


OVERLOADED = (
    "Switchboard could not reach the telephony worker just now; try again in a moment."
)


def _user_may_control(user_id: int) -> bool:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return user is not None and user.has_perm("telephony.control_calls")


class BadMessage(ValueError):
    """A browser message we cannot act on; the reply says why."""


def valid_id(content: dict[str, Any], name: str) -> str:
    """A session or party id from a browser message, or BadMessage."""
    value = content.get(name)
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise BadMessage(f"Invalid {name}.")
    return value


def command_params(raw: Any) -> dict[str, str]:
    """Validate a command's `params` object (may be absent)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadMessage("Command params must be an object.")
    params = {}
    for name, value in raw.items():
        if name not in PARAM_NAMES:
            raise BadMessage(f"Unknown command parameter {name!r}.")
        if not isinstance(value, str) or not PARAM_PATTERN.match(value):
            raise BadMessage(f"Invalid value for {name}.")
        params[name] = value
    return params


class SupervisorConsumer(AsyncJsonWebsocketConsumer):
    """One supervisor console."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.username = user.get_username()
        self.user_id = user.pk
        self.pending: dict[str, asyncio.TimerHandle] = {}
        await self.accept()
        self.feed = feed_for(self.channel_layer)
        await self.feed.join(self)
        try:
            await broadcast.request_snapshot(
                self.channel_layer, reply_to=self.channel_name
            )
        except Exception:  # the console asks again every few seconds
            logger.exception("could not ask the worker for a snapshot")

    async def disconnect(self, code: int) -> None:
        for timer in getattr(self, "pending", {}).values():
            timer.cancel()
        if hasattr(self, "feed"):
            await self.feed.leave(self)

    async def send_frame(self, text: str) -> None:
        """A live-feed frame, serialised once for every console (feed.py)."""
        await self.send(text_data=text)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels closes stale DB connections before every message, in a
        # worker thread; this consumer only touches the DB in connect(), so
        # skip that per-message cost (PERFORMANCE.md).
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- browser -> server ------------------------------------------------

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        try:
            await self._handle_browser(content)
        except BadMessage as exc:
            await self._error(str(exc), content)
        except ChannelFull:
            await self._error(OVERLOADED, content)
        except Exception:  # e.g. Redis unreachable: say so, keep the socket
            logger.exception("could not hand a console message to the worker")
            await self._error(OVERLOADED, content)

    async def _error(self, message: str, content: Any) -> None:
        reply = {"type": "error", "message": message}
        request_id = content.get("requestId") if isinstance(content, dict) else None
        if isinstance(request_id, str) and ID_PATTERN.match(request_id):
            # The console un-blocks the call this command was pending on.
            reply["requestId"] = request_id
        await self.send_json(reply)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        try:
            content = await self.decode_json(text_data or "")
        except (ValueError, RecursionError):  # not JSON, or absurdly nested
            await self.send_json({"type": "error", "message": "Messages must be JSON."})
            return
        await self.receive_json(content)

    async def _handle_browser(self, content: Any) -> None:
        if not isinstance(content, dict):
            raise BadMessage("Messages must be JSON objects.")
        kind = content.get("type")
        if kind == "resync":
            await broadcast.request_snapshot(
                self.channel_layer, reply_to=self.channel_name
            )
        elif kind == "command":
            await self._command(content)
        else:
            raise BadMessage(f"Unknown message type {kind!r}.")

    async def _command(self, content: dict[str, Any]) -> None:
        request_id = content.get("requestId")
        if not isinstance(request_id, str) or not ID_PATTERN.match(request_id):
            raise BadMessage("A command needs a requestId.")
        if request_id in self.pending:
            raise BadMessage("This command was already sent.")
        if not await self._may_control():
            raise BadMessage("You do not have permission to control calls.")
        action = content.get("action")
        if action not in broadcast.COMMAND_ACTIONS:
            raise BadMessage(f"Unknown action {action!r}.")
        session_id = valid_id(content, "sessionId")
        party_id = valid_id(content, "partyId")
        await broadcast.request_command(
            self.channel_layer,
            reply_to=self.channel_name,
            request_id=request_id,
            action=action,
            session_id=session_id,
            party_id=party_id,
            user=self.username,
            params=command_params(content.get("params")),
        )
        loop = asyncio.get_running_loop()
        self.pending[request_id] = loop.call_later(
            settings.COMMAND_REPLY_TIMEOUT,
            lambda: asyncio.ensure_future(self._command_timed_out(request_id, action)),
        )

    async def _may_control(self) -> bool:
        """Checked on every command against the database, not the login:
        a permission withdrawn (or a user deactivated) takes effect on open
        consoles at once. Commands are rare; the query is cheap."""
        return await database_sync_to_async(_user_may_control)(self.user_id)

    async def _command_timed_out(self, request_id: str, action: str) -> None:
        if self.pending.pop(request_id, None) is None:
            return
        await self.send_json(
            {
                "type": "command_result",
                "requestId": request_id,
                "ok": False,
                "message": f"{action.capitalize()}: no answer from the telephony "
                "worker yet; it may still happen. Check the worker before retrying.",
                "errorCode": None,
                "status": None,
                "retryAfter": None,
            }
        )

    # --- worker -> server -------------------------------------------------

    async def telephony_snapshot_sent(self, event: broadcast.SnapshotSent) -> None:
        await self.send_json(
            {
                "type": "snapshot",
                "serverTime": datetime.now(UTC).isoformat(),
                "epoch": event["epoch"],
                "seq": event["seq"],
                "calls": event["calls"],
                "worker": event["status"],
            }
        )

    async def telephony_command_confirmed(
        self, event: broadcast.CommandConfirmed
    ) -> None:
        await self.send_json(
            {
                "type": "command_confirmed",
                "requestId": event["request_id"],
                "confirmed": event["confirmed"],
                "message": event["message"],
            }
        )

    async def telephony_command_replied(self, event: broadcast.CommandReplied) -> None:
        timer = self.pending.pop(event["request_id"], None)
        if timer is not None:
            timer.cancel()
        await self.send_json(
            {
                "type": "command_result",
                "requestId": event["request_id"],
                "ok": event["ok"],
                "action": event["action"],
                "sessionId": event["session_id"],
                "message": event["message"],
                "errorCode": event["error_code"],
                "status": event["status"],
                "retryAfter": event["retry_after"],
            }
        )
