"""The live call wall: `/wall/?token=…` and its socket `/ws/wall/?token=…`.

A TV opens the page with a wall token (dashboard.models.WallToken), no
login. The page is read-only; its socket joins the process's live feed
(dashboard.feed) like a console, and gets the same snapshot and deltas, but:

- The token, not a login, opens it: looked up by its digest when the socket
  opens (dashboard.wall_tokens). A token opens nothing else (the console,
  the API, the admin read sessions, never a wall token).
- A wall that masks numbers (the default) joins the process's masked feed,
  whose frames carry every number masked to its last four digits
  (protocol.masked_call_wire): the TV never receives a customer's number.
  Unmasked walls share the consoles' feed.
- It sends nothing: a command, an acknowledgement or any other message
  gets an `error` reply (the socket stays up). Only `resync` is read.
- Revoked, expired or deleted, the token closes its open walls within
  seconds: every process's live feed hears of it through the channel layer
  (`telephony.wall_changed`) and has its walls of that token read it
  again; the page shows that the wall ended and stops reconnecting (4410).
  Edited, they follow its new settings (another feed if masking changed).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dashboard import protocol
from dashboard.feed import feed_for
from dashboard.selectors import call_queues_get, extension_directory_get
from dashboard.wall_tokens import wall_access, wall_recheck

logger = logging.getLogger("dashboard.wall")

# The close code of a wall whose token no longer opens it (revoked,
# expired, removed, never valid): the page goes dark and stops
# reconnecting (static/dashboard/live.js ENDINGS).
WALL_ENDED = 4410
READ_ONLY = "This wall is read-only: it takes no commands."
# A wall re-reads its token at least this often (seconds), besides when
# told it changed and at its expiry.
RECHECK_EVERY = 3600.0


def _private(response: HttpResponse) -> HttpResponse:
    """The token is in the address: never sent on as a Referer, never
    cached, never indexed."""
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@never_cache
@require_GET
def wall_page(request: HttpRequest) -> HttpResponse:
    """The wall's page (no login; the token opens it), or a page saying in
    plain words why this link does not open a wall (403, 410). The page
    reads the live floor from its socket; it gets, once, the extensions'
    names and the call queues. Its panels and queues come over the socket
    too (`wall` frame), so an edit of the token reaches an open wall."""
    access = wall_access(request.GET.get("token"), seen=True)
    if not access.ok:
        response = render(
            request,
            "dashboard/wall_refused.html",
            {"reason": access.refusal},
            status=access.status,
        )
        return _private(response)
    directory = extension_directory_get()
    queues = [
        {"ext": q["ext"], "number": q["number"], "name": q["name"]}
        for q in call_queues_get(directory)
    ]
    names = {ext: entry["name"] for ext, entry in directory.items() if entry["name"]}
    response = render(
        request,
        "dashboard/wall.html",
        {"wall": access.settings(), "queues": queues, "names": names},
    )
    return _private(response)


def _token(scope: dict[str, Any]) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    values = query.get("token") or [None]
    return values[0]


class WallConsumer(AsyncJsonWebsocketConsumer):
    """One wall's socket: read-only, opened by its token."""

    # A wall is nobody's console: the feed's revocations by user or login
    # session never match it.
    user_id = None
    session_key = None
    wall_id: int | None = None

    async def connect(self) -> None:
        self._expiry: asyncio.TimerHandle | None = None
        access = await database_sync_to_async(wall_access)(_token(self.scope))
        await self.accept()
        if not access.ok:
            await self.revoke(access.refusal or "")
            return
        self.wall_id = access.wall_id
        self.access = access
        await self._send(protocol.wall(**access.settings()))
        self.feed = feed_for(self.channel_layer, masked=access.masked)
        self._watch_expiry()
        await self.feed.join(self)

    async def revoke(self, reason: str, code: int | None = None) -> None:
        """This wall may not go on: say why, then close (the page goes
        dark and does not reconnect)."""
        await self._send(protocol.error(reason))
        await self.close(code=code or WALL_ENDED)

    async def recheck(self) -> None:
        """Read the token again (it was edited, or its expiry came): close
        the wall if it no longer opens, else follow its settings."""
        if self.wall_id is None:
            return
        access = await database_sync_to_async(wall_recheck)(self.wall_id)
        if not access.ok:
            await self.revoke(access.refusal or "")
            return
        before, self.access = self.access, access
        if access.settings() != before.settings():
            await self._send(protocol.wall(**access.settings()))
        if access.masked != before.masked:
            await self._move(feed_for(self.channel_layer, masked=access.masked))
        self._watch_expiry()

    async def _move(self, feed: Any) -> None:
        """Serve this wall from another feed (masking turned on or off):
        its snapshot replaces what the page shows."""
        old, self.feed = self.feed, feed
        await old.leave(self)
        await feed.join(self)

    def _watch_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        delay = RECHECK_EVERY
        if self.access.expires_at is not None:
            left = (self.access.expires_at - timezone.now()).total_seconds()
            delay = min(max(left, 0.0) + 0.05, RECHECK_EVERY)
        self._expiry = asyncio.get_running_loop().call_later(
            delay, lambda: self.feed.hold(self.recheck())
        )

    async def disconnect(self, code: int) -> None:
        if getattr(self, "_expiry", None) is not None:
            self._expiry.cancel()  # type: ignore[union-attr]
        if hasattr(self, "feed"):
            await self.feed.leave(self)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # As SupervisorConsumer: no per-message database hand-off.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        try:
            content = await self.decode_json(text_data or "")
        except (ValueError, RecursionError):
            await self._send(protocol.error("Messages must be JSON."))
            return
        if isinstance(content, dict) and content.get("type") == "resync":
            if hasattr(self, "feed"):
                self.feed.resync(self)
            return
        await self._send(protocol.error(READ_ONLY))

    async def _send(self, frame: Any) -> None:
        await self.send(text_data=protocol.dumps(frame))
