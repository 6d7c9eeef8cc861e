"""The supervisor console's WebSocket: snapshot, live deltas, commands.

Thin by design: authenticate, join the process's live feed (dashboard.feed
sends the snapshot from the process's copy of the floor, then coalesced
deltas), and hand commands to the worker over the channel layer. Never
calls RingCentral itself.

The browser protocol (every frame) is defined and built in
dashboard.protocol; the actions and their parameters in telephony.actions.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.utils import timezone

from dashboard import access, protocol
from dashboard.feed import feed_for
from telephony import actions, broadcast
from telephony.models import FLOOR_PERMISSIONS

logger = logging.getLogger("dashboard.consumers")

# Ids are opaque to us, but they travel into RingCentral URLs: allow only
# the characters RingCentral uses and a sane length. `\Z`, not `$`: `$` also
# matches before a final newline, which would pass "s-1\n" on.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:=-]{1,128}\Z")
# An alert's id: its kind and subject (telephony.live.alerts).
ALERT_ID = re.compile(r"^[a-z_]{1,32}:[A-Za-z0-9_.:=-]{1,128}\Z")


OVERLOADED = (
    "Switchboard could not reach the telephony worker just now; try again in a moment."
)
TOO_MANY = (
    "Too many consoles are open for your user ({cap} on this server). Close "
    "one, then reload this page."
)
# A console re-reads its session's expiry at least this often (seconds):
# a session can be extended by the user's other pages.
EXPIRY_RECHECK = 3600.0
# While the database is away, an open console keeps the access it last read
# and looks again this often (seconds).
DATABASE_RETRY = 15.0


def _user_may(user_id: int, permission: str) -> bool:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return user is not None and user.has_perm(permission)


def _refusal(action: actions.Action) -> str:
    """E.g. "You do not have permission to hold and unhold live calls. …"."""
    what = dict(FLOOR_PERMISSIONS)[action.permission.partition(".")[2]]
    return (
        f"You do not have permission to {what.removeprefix('Can ')}. "
        "Ask an administrator."
    )


class BadMessage(ValueError):
    """A browser message we cannot act on; the reply says why."""


def shown(value: Any) -> str:
    """A value the browser sent, quoted in a reply: short, whatever its size."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:39]}\N{HORIZONTAL ELLIPSIS}"


def valid_id(content: dict[str, Any], name: str) -> str:
    """A session or party id from a browser message, or BadMessage."""
    value = content.get(name)
    # Dots alone are a path segment ("..") that an HTTP client collapses,
    # leaving the session's path: never an id.
    if (
        not isinstance(value, str)
        or not ID_PATTERN.match(value)
        or not value.strip(".")
    ):
        raise BadMessage(f"Invalid {name}.")
    return value


# The close codes of a console the server will not serve (the page stops
# reconnecting and says why); 4000-4999 are the application's.
ACCESS_ENDED = 4401  # logged out, deactivated, new password, session gone
NOT_PERMITTED = 4403  # no permission to watch the floor
TOO_MANY_CONSOLES = 4429  # the user's consoles on this process are capped


class SupervisorConsumer(AsyncJsonWebsocketConsumer):
    """One supervisor console."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.username = user.get_username()
        self.viewing: str | None = None  # the call open on this console
        self.user_id = user.pk
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self._expiry: asyncio.TimerHandle | None = None
        # Access ends at once: the live feed closes the consoles of a user
        # or a session whose access ended, and has those of a user whose
        # permissions changed look again (dashboard.access).
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        # Accepted first: daphne drops a handshake not done within 5 s, and
        # a thousand consoles reconnecting at once queue for the database.
        # (Their messages wait until connect() returns.)
        await self.accept()
        await self._read_access()
        if await self._closed_unless_watching():
            return
        feed = feed_for(self.channel_layer)
        cap = settings.CONSOLES_PER_USER
        if cap and feed.consoles_of(self.user_id) >= cap:
            await self.revoke(TOO_MANY.format(cap=cap), code=TOO_MANY_CONSOLES)
            return
        self.feed = feed
        await self._send_access()
        self._watch_expiry()
        await self.feed.join(self)

    async def revoke(self, reason: str, code: int | None = None) -> None:
        """This console may not go on (its user's or session's access
        ended, or it may not watch): say why, then close with `code`
        (ACCESS_ENDED by default; the page does not reconnect)."""
        await self.send(text_data=protocol.dumps(protocol.error(reason)))
        await self.close(code=code or ACCESS_ENDED)

    async def recheck(self) -> None:
        """Read this console's access again (its user's permissions changed,
        or its session's expiry came): close it if it may no longer watch,
        else tell the page what it may do now. The database away: keep the
        access last read (nothing can change it meanwhile: every change of
        access is a write to that database) and look again soon."""
        try:
            await self._read_access()
        except DatabaseError:
            logger.warning(
                "console of %s: could not read its access (database "
                "unavailable); kept what it had, looking again in %.0f s",
                self.username,
                DATABASE_RETRY,
            )
            if self in self.feed.links:
                self._recheck_in(DATABASE_RETRY)
            return
        if self not in self.feed.links:
            return  # closed meanwhile
        if not await self._closed_unless_watching():
            await self._send_access()
            self._watch_expiry()

    async def _read_access(self) -> None:
        """What this console's user may do now, from the database."""
        self.access = await database_sync_to_async(access.console_access)(
            self.user_id, self.session_key
        )

    async def _closed_unless_watching(self) -> bool:
        """If the user may not watch, say why and close (True)."""
        if self.access.view:
            return False
        code = NOT_PERMITTED if self.access.refusal == access.NO_VIEW else None
        await self.revoke(self.access.refusal or access.NO_VIEW, code=code)
        return True

    async def _send_access(self) -> None:
        await self._send(
            protocol.access(
                actions=self.access.actions, acknowledge=self.access.acknowledge
            )
        )

    def _watch_expiry(self) -> None:
        """Look again when the login session expires (or within the hour:
        the user's other pages may extend it)."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self.access.expires_at is None:
            return
        delay = (self.access.expires_at - timezone.now()).total_seconds()
        self._recheck_in(min(max(delay, 0.0) + 0.05, EXPIRY_RECHECK))

    def _recheck_in(self, seconds: float) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(seconds, lambda: self.feed.hold(self.recheck()))

    async def disconnect(self, code: int) -> None:
        for timer in getattr(self, "pending", {}).values():
            timer.cancel()
        expiry = getattr(self, "_expiry", None)
        if expiry is not None:
            expiry.cancel()
        if hasattr(self, "feed"):
            await self.feed.leave(self)
        if getattr(self, "viewing", None) is not None:
            try:  # this supervisor is no longer on that call
                await broadcast.report_viewing(
                    self.channel_layer,
                    console=self.channel_name,
                    user=self.username,
                    session_id=None,
                )
            except Exception:  # the worker forgets them after a while anyway
                logger.exception("could not report a console leaving its call")

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels closes stale DB connections before every message, in a
        # worker thread; this consumer only touches the DB in connect(), so
        # skip that per-message cost (docs/performance.md 7 item 4).
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
        request_id = content.get("requestId") if isinstance(content, dict) else None
        if not isinstance(request_id, str) or not ID_PATTERN.match(request_id):
            request_id = None
        # With a requestId, the console un-blocks the call it was pending on.
        await self._send(protocol.error(message, request_id=request_id))

    async def _send(self, frame: Any) -> None:
        await self.send(text_data=protocol.dumps(frame))

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        try:
            content = await self.decode_json(text_data or "")
        except (ValueError, RecursionError):  # not JSON, or absurdly nested
            await self._send(protocol.error("Messages must be JSON."))
            return
        await self.receive_json(content)

    async def _handle_browser(self, content: Any) -> None:
        if not isinstance(content, dict):
            raise BadMessage("Messages must be JSON objects.")
        kind = content.get("type")
        if kind == "resync":
            self.feed.resync(self)
        elif kind == "viewing":
            session_id = content.get("sessionId")
            if session_id is not None:
                session_id = valid_id(content, "sessionId")
            self.viewing = session_id
            await broadcast.report_viewing(
                self.channel_layer,
                console=self.channel_name,
                user=self.username,
                session_id=session_id,
            )
        elif kind == "ack":
            alert_id = content.get("alertId")
            if not isinstance(alert_id, str) or not ALERT_ID.match(alert_id):
                raise BadMessage("Invalid alertId.")
            if not await self._may(actions.ACKNOWLEDGE_ALERTS):
                raise BadMessage(
                    "You do not have permission to acknowledge alerts. Ask an "
                    "administrator."
                )
            await broadcast.request_acknowledge(
                self.channel_layer,
                reply_to=self.channel_name,
                user=self.username,
                alert_id=alert_id,
            )
        elif kind == "command":
            await self._command(content)
        else:
            raise BadMessage(f"Unknown message type {shown(kind)}.")

    async def _command(self, content: dict[str, Any]) -> None:
        request_id = content.get("requestId")
        if not isinstance(request_id, str) or not ID_PATTERN.match(request_id):
            raise BadMessage("A command needs a requestId.")
        if request_id in self.pending:
            raise BadMessage("This command was already sent.")
        name = content.get("action")
        # A list or an object is no action (and cannot be a dict key).
        action = actions.ACTIONS.get(name) if isinstance(name, str) else None
        if action is None:
            raise BadMessage(f"Unknown action {shown(name)}.")
        if not await self._may(action.permission):
            raise BadMessage(_refusal(action))
        session_id = valid_id(content, "sessionId")
        party_id = valid_id(content, "partyId")
        try:
            params = action.clean(content.get("params"))
        except actions.InvalidParams as exc:
            raise BadMessage(str(exc)) from None
        # Again on a dropped connection (a Redis restart): not yet sent,
        # so it cannot run twice.
        await broadcast.send_again(
            lambda: broadcast.request_command(
                self.channel_layer,
                reply_to=self.channel_name,
                request_id=request_id,
                action=action.name,
                session_id=session_id,
                party_id=party_id,
                user=self.username,
                user_id=self.user_id,
                params=params,
            )
        )
        loop = asyncio.get_running_loop()
        self.pending[request_id] = loop.call_later(
            settings.COMMAND_REPLY_TIMEOUT,
            lambda: asyncio.ensure_future(
                self._command_timed_out(request_id, action, session_id)
            ),
        )

    async def _may(self, permission: str) -> bool:
        """Checked on every command against the database, not the login:
        a permission withdrawn (or a user deactivated) takes effect on open
        consoles at once. Commands are rare; the query is cheap. The
        database away, the access this console last read answers: a
        supervisor keeps working through an outage, and no one's access
        can change meanwhile (each change is a write to that database)."""
        try:
            return await database_sync_to_async(_user_may)(self.user_id, permission)
        except DatabaseError:
            logger.warning(
                "console of %s: database unavailable; %s judged by the access "
                "read before",
                self.username,
                permission,
            )
            return self.access.may(permission)

    async def _command_timed_out(
        self, request_id: str, action: actions.Action, session_id: str
    ) -> None:
        if self.pending.pop(request_id, None) is None:
            return
        await self._send(
            protocol.command_result(
                request_id=request_id,
                ok=False,
                action=action.name,
                session_id=session_id,
                message=f"{action.title}: no answer from the telephony worker "
                "yet; it may still happen. Check the worker before retrying.",
            )
        )

    # --- worker -> server -------------------------------------------------

    async def telephony_request_failed(self, event: dict[str, Any]) -> None:
        await self._send(protocol.error(event["message"]))

    async def telephony_command_confirmed(
        self, event: broadcast.CommandConfirmed
    ) -> None:
        await self._send(
            protocol.command_confirmed(
                request_id=event["request_id"],
                confirmed=event["confirmed"],
                message=event["message"],
            )
        )

    async def telephony_command_replied(self, event: broadcast.CommandReplied) -> None:
        timer = self.pending.pop(event["request_id"], None)
        if timer is not None:
            timer.cancel()
        await self._send(
            protocol.command_result(
                request_id=event["request_id"],
                ok=event["ok"],
                action=event["action"],
                session_id=event["session_id"],
                message=event["message"],
                error_code=event["error_code"],
                status=event["status"],
                retry_after=event["retry_after"],
            )
        )
