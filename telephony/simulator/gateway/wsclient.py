"""One gateway socket: its session context, timers and ordered outbox.

Frames for a socket are queued and written by one writer task, so the
engine publishes synchronously and order is kept. A close is queued like a
frame, so an `Error` frame sent just before it (WSG-902, WSG-400) arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import http
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response as HandshakeResponse

from telephony.simulator.gateway import frames
from telephony.simulator.gateway.recovery import SessionContext
from telephony.simulator.gateway.subscriptions import Subscription

logger = logging.getLogger("telephony.simulator.gateway")

# A subscriber this far behind is not reading; drop it rather than let
# memory grow without bound (it reconnects and resyncs like after a drop).
MAX_OUTBOX = 50_000


class GatewayConnection(ServerConnection):
    """A websockets connection that remembers its handshake's tokens."""

    oauth_session_id: str = ""
    wsc_token: str | None = None


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class WsClient:
    """Per-socket state: session context, activity times, outbox."""

    def __init__(
        self,
        connection: GatewayConnection,
        context: SessionContext,
        clock: Callable[[], float],
    ) -> None:
        self.connection = connection
        self.context = context
        self.opened_at = self.last_activity = clock()
        self._outbox: asyncio.Queue[str | _Close] = asyncio.Queue()
        self._closing = False
        self._close_queued = False

    @property
    def oauth_session_id(self) -> str:
        """The OAuth session the socket was opened under."""
        return self.context.oauth_session_id

    @property
    def subscription(self) -> Subscription | None:
        """The socket's one subscription (kept in the recoverable context)."""
        return self.context.subscription

    @subscription.setter
    def subscription(self, value: Subscription | None) -> None:
        self.context.subscription = value

    def next_wsc(self) -> dict[str, Any]:
        """Session-context token with the next sequence (for recovery)."""
        return self.context.next_wsc()

    def send(self, frame: list[Any]) -> None:
        """Queue a frame; never blocks the caller."""
        if self._closing:
            return
        if self._outbox.qsize() >= MAX_OUTBOX:
            logger.warning("dropping a subscriber that stopped reading")
            self.abort()
            return
        self._outbox.put_nowait(frames.dumps(frame))

    def close_after_pending(self, code: int, reason: str) -> None:
        """Close with `code` once every queued frame is written."""
        if not self._closing:
            self._outbox.put_nowait(_Close(code, reason))
            self._closing = self._close_queued = True

    @property
    def close_queued(self) -> bool:
        """True once a close waits in the outbox behind pending frames."""
        return self._close_queued

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake."""
        self._closing = True
        self.connection.transport.abort()

    async def write_forever(self) -> None:
        """Send queued frames in order until the socket closes."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                item = await self._outbox.get()
                if isinstance(item, _Close):
                    await self.connection.close(item.code, item.reason)
                    return
                await self.connection.send(item)


def new_envelope(
    subscription: Any, path: str, body: dict[str, Any], timestamp: str
) -> dict[str, Any]:
    """A notification envelope for one subscription (docs/ringcentral.md 5.7)."""
    # Captured uuids are 19-digit numbers, not RFC 4122 UUIDs.
    return {
        "uuid": str(secrets.randbits(63)),
        "event": path,
        "timestamp": timestamp,
        "subscriptionId": subscription.id,
        "ownerId": subscription.owner_id,
        "body": body,
    }


def reject_handshake(status: int, body: dict[str, Any]) -> HandshakeResponse:
    """Handshake refusal with a JSON body, like a REST error."""
    payload = json.dumps(body).encode()
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(payload))),
            ("Content-Type", "application/json"),
        ]
    )
    return HandshakeResponse(status, http.HTTPStatus(status).phrase, headers, payload)
