"""The WebSocket gateway: `/ws?access_token=<wstoken>` (PROTOCOL.md 5).

The HTTP server hands each upgrade request's transport here; it becomes a
websockets `ServerConnection` managed by a websockets `Server`, so pings,
closing handshakes and shutdown are websockets' own. A bad, expired or
already used token is refused in the opening handshake with HTTP 401 and
RingCentral's error body (`OAU-213`), before any frame is exchanged.

Each socket has an outbox drained by one writer task, so the engine can
publish synchronously and frames keep their order per socket.
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
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HandshakeRequest, Response as HandshakeResponse
from websockets.protocol import OPEN
from websockets.server import ServerProtocol

from telephony.simulator import frames, wire
from telephony.simulator.auth import TokenStore
from telephony.simulator.engine import PartyChange
from telephony.simulator.errors import error_body
from telephony.simulator.gateway_requests import ClientRequests, Scope
from telephony.simulator.subscriptions import Subscription

logger = logging.getLogger("telephony.simulator.gateway")

# The platform pings; a client that stops answering is dropped.
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0
OPEN_TIMEOUT = 10.0
# Short, so that stopping the simulator never hangs on a silent client.
CLOSE_TIMEOUT = 2.0
# A subscriber this far behind is not reading; drop it rather than let
# memory grow without bound (it reconnects and resyncs like after a drop).
MAX_OUTBOX = 50_000


class GatewayConnection(ServerConnection):
    """A websockets connection that remembers its OAuth session."""

    oauth_session_id: str = ""


class WsClient:
    """Per-socket state: subscription, wsc sequence, ordered outbox."""

    def __init__(self, connection: GatewayConnection) -> None:
        self.connection = connection
        self.oauth_session_id = connection.oauth_session_id
        self.subscription: Subscription | None = None
        self._wsc_token = secrets.token_urlsafe(24)
        self._wsc_sequence = 0
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._dropped = False

    def next_wsc(self) -> dict[str, Any]:
        """Session-context token with the next sequence (for recovery)."""
        self._wsc_sequence += 1
        return {"token": self._wsc_token, "sequence": self._wsc_sequence}

    def send(self, frame: list[Any]) -> None:
        """Queue a frame; never blocks the caller."""
        if self._dropped:
            return
        if self._outbox.qsize() >= MAX_OUTBOX:
            logger.warning("dropping a subscriber that stopped reading")
            self._dropped = True
            self.connection.transport.abort()
            return
        self._outbox.put_nowait(frames.dumps(frame))

    async def write_forever(self) -> None:
        """Send queued frames in order until the socket closes."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.connection.send(await self._outbox.get())


class Gateway:
    """Accepts gateway sockets and fans telephony events out to them."""

    def __init__(
        self,
        *,
        tokens: TokenStore,
        requests: ClientRequests,
        scope: Scope,
        now: Callable[[], datetime],
    ) -> None:
        self.server: Server | None = None
        self._tokens = tokens
        self._requests = requests
        self._scope = scope
        self._now = now
        self._clients: set[WsClient] = set()

    def upgrade(self, transport: asyncio.Transport, buffered: bytes) -> None:
        """Switch an HTTP transport to a websockets connection."""
        assert self.server is not None, "gateway used before start"
        protocol = ServerProtocol(logger=logger)
        connection = GatewayConnection(
            protocol,
            self.server,
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
            close_timeout=CLOSE_TIMEOUT,
        )
        transport.set_protocol(connection)
        connection.connection_made(transport)
        # The handshake request is re-parsed by websockets from raw bytes.
        connection.data_received(buffered)

    async def handle(self, connection: ServerConnection) -> None:
        """Lifecycle of one socket, as websockets' own `serve` runs it."""
        assert isinstance(connection, GatewayConnection) and self.server is not None
        server = self.server
        try:
            async with asyncio.timeout(OPEN_TIMEOUT):
                await connection.handshake(self._check_token, None)
            if connection.protocol.state is not OPEN:
                connection.transport.abort()
                return
            server.all_connections.add(connection)
            connection.start_keepalive()
            try:
                async with connection:
                    await self._serve(connection)
            finally:
                server.all_connections.discard(connection)
        except Exception:
            logger.exception("gateway connection failed")
            connection.transport.abort()
        finally:
            task = asyncio.current_task()
            if task is not None:
                server.handler_tasks.discard(task)

    def publish(self, change: PartyChange) -> None:
        """Send one telephony event to every matching subscription."""
        party = change.party
        targets = [
            c for c in self._clients if c.subscription and c.subscription.matches(party)
        ]
        if not targets:
            return
        body = wire.event_body(change, self._scope.server_id)
        path = wire.event_path(self._scope.account_id, party)
        timestamp = wire.iso_ms(self._now())
        for client in targets:
            assert client.subscription is not None
            # Captured uuids are 19-digit numbers, not RFC 4122 UUIDs.
            event_id = str(secrets.randbits(63))
            envelope = {
                "uuid": event_id,
                "event": path,
                "timestamp": timestamp,
                "subscriptionId": client.subscription.id,
                "ownerId": client.subscription.owner_id,
                "body": body,
            }
            client.send(frames.notification(event_id, envelope, client.next_wsc()))

    async def _serve(self, connection: GatewayConnection) -> None:
        client = WsClient(connection)
        self._clients.add(client)
        writer = asyncio.create_task(client.write_forever())
        try:
            client.send(frames.connection_details(client.next_wsc(), self._now()))
            async for message in connection:
                self._on_message(client, message)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _on_message(self, client: WsClient, message: str | bytes) -> None:
        try:
            frame = frames.parse(message)
            if frame.type == "Heartbeat":
                client.send(frames.heartbeat(frame.message_id))
            elif frame.type == "ClientRequest":
                client.send(self._requests.answer(client, frame))
            else:
                raise frames.FrameError(
                    "CMN-104",
                    f"Unsupported message type [{frame.type}]",
                    frame.message_id,
                )
        except frames.FrameError as exc:
            # A bad frame costs an Error frame, never the socket.
            client.send(frames.error(exc.code, exc.message, 400, exc.message_id))

    def _check_token(
        self, connection: ServerConnection, request: HandshakeRequest
    ) -> HandshakeResponse | None:
        url = urlsplit(request.path)
        if url.path.rstrip("/") != "/ws":
            return _reject(404, error_body("CMN-120", "Invalid URI"))
        token = parse_qs(url.query).get("access_token", [""])[0]
        session_id = self._tokens.consume_ws_token(token) if token else None
        if session_id is None:
            return _reject(401, error_body("OAU-213", "Token not found"))
        assert isinstance(connection, GatewayConnection)
        connection.oauth_session_id = session_id
        return None


def _reject(status: int, body: dict[str, Any]) -> HandshakeResponse:
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
