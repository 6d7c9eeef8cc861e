"""The WebSocket gateway: `/ws?access_token=<wstoken>[&wsc=<token>]`.

docs/ringcentral.md 5. The HTTP server hands each upgrade request's transport here;
it becomes a websockets `ServerConnection` managed by a websockets
`Server`, so pings, closing handshakes and shutdown are websockets' own. A
bad, expired or already used token is refused in the opening handshake with
HTTP 401 and RingCentral's error body (`OAU-213`).

Each socket is bound to a recoverable session context (`recovery.py`).
A periodic sweep enforces the idle timeout (reset only by client frames,
never by WebSocket pings: python#68) and the absolute timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HandshakeRequest, Response as HandshakeResponse
from websockets.protocol import OPEN
from websockets.server import ServerProtocol

from telephony.simulator.engine import wire
from telephony.simulator.engine.engine import PartyChange
from telephony.simulator.engine.presence import PresenceChange
from telephony.simulator.faults import Faults
from telephony.simulator.gateway import frames
from telephony.simulator.gateway.gateway_requests import ClientRequests, Scope
from telephony.simulator.gateway.recovery import (
    ContextStore,
    MalformedToken,
    Recovery,
)
from telephony.simulator.gateway.subscriptions import Subscription
from telephony.simulator.gateway.wsclient import (
    GatewayConnection,
    WsClient,
    new_envelope,
    reject_handshake,
)
from telephony.simulator.rest.auth import TokenStore
from telephony.simulator.rest.errors import error_body

logger = logging.getLogger("telephony.simulator.gateway")

JsonDict = dict[str, Any]

# The platform pings; a client that stops answering is dropped.
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0
OPEN_TIMEOUT = 10.0
# Short, so that stopping the simulator never hangs on a silent client.
CLOSE_TIMEOUT = 2.0
# No public source gives the close codes (docs/ringcentral.md 5.10) [inferred]:
# timeouts close normally, a bad wsc token or an ended OAuth session as a
# policy violation.
CLOSE_TIMEOUT_CODE = 1000
CLOSE_POLICY_CODE = 1008


class Gateway:
    """Accepts gateway sockets and fans telephony events out to them."""

    def __init__(
        self,
        *,
        tokens: TokenStore,
        requests: ClientRequests,
        scope: Scope,
        now: Callable[[], datetime],
        clock: Callable[[], float],
        contexts: ContextStore,
        faults: Faults,
        limits: dict[str, Any],
        idle_timeout: float,
        absolute_timeout: float,
    ) -> None:
        self.server: Server | None = None
        self._tokens = tokens
        self._requests = requests
        self._scope = scope
        self._now = now
        self._clock = clock
        self._contexts = contexts
        self._faults = faults
        self._limits = limits
        self._idle_timeout = idle_timeout
        self._absolute_timeout = absolute_timeout
        self._clients: set[WsClient] = set()
        tokens.on_end = self.session_ended

    def subscriptions(self) -> list[dict[str, Any]]:
        """`GET /_sim/subscriptions`: every open socket's subscription (who
        is following the account right now), oldest first."""
        live = [c for c in self._clients if c.subscription is not None]
        live.sort(key=lambda c: c.opened_at)
        return [
            {
                "id": c.subscription.id,
                "oauthSessionId": c.oauth_session_id,
                "createdAt": c.subscription.created_at.isoformat(),
            }
            for c in live
            if c.subscription is not None
        ]

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

    # -- events ----------------------------------------------------------------

    def publish(self, change: PartyChange) -> None:
        """Send one telephony event to every matching subscription."""
        self._faults.route(change, self._deliver)

    def publish_presence(self, change: PresenceChange) -> None:
        """Send one presence change to every subscription with a presence
        filter for its extension (same faults, buffers and wsc as events).

        Changes nobody subscribed to never reach the faults, so presence
        does not alter the faults a seed injects into telephony events."""
        for client in self._clients:
            if client.subscription is not None and client.subscription.wants_presence:
                self._faults.route(change, self._deliver_presence)
                return
        for context in self._contexts.detached():
            if context.subscription is not None and context.subscription.wants_presence:
                self._faults.route(change, self._deliver_presence)
                return

    def _deliver(self, change: PartyChange, copies: int) -> None:
        party = change.party
        rendered: tuple[str, JsonDict] | None = None

        def render(subscription: Subscription) -> tuple[str, JsonDict] | None:
            nonlocal rendered
            if not subscription.matches(party):
                return None
            if rendered is None:
                body = wire.event_body(change, self._scope.server_id)
                rendered = (wire.event_path(self._scope.account_id, party), body)
            return rendered

        self._fan_out(render, copies)

    def _deliver_presence(self, change: PresenceChange, copies: int) -> None:
        ext = change.extension_id
        owner = self._scope.owner_id
        rendered: dict[bool, tuple[str, JsonDict]] = {}

        def render(subscription: Subscription) -> tuple[str, JsonDict] | None:
            detailed = subscription.presence_mode(ext)
            if detailed is None or not (detailed or change.simple):
                return None
            if detailed not in rendered:
                path = wire.presence_event_path(
                    self._scope.account_id, ext, detailed=detailed
                )
                body = wire.presence_event_body(change, owner, detailed=detailed)
                rendered[detailed] = (path, body)
            return rendered[detailed]

        self._fan_out(render, copies)

    def _fan_out(
        self,
        render: Callable[[Subscription], tuple[str, JsonDict] | None],
        copies: int,
    ) -> None:
        """The single fan-out point: live sockets and detached contexts.

        `render` gives a subscription's (event path, body), or None when
        the subscription does not select this notification.
        """
        timestamp: str | None = None
        for client in self._clients:
            subscription = client.subscription
            if subscription is None or (rendered := render(subscription)) is None:
                continue
            timestamp = timestamp or wire.iso_ms(self._now())
            envelope = new_envelope(subscription, *rendered, timestamp)
            for _ in range(copies):
                client.send(
                    frames.notification(envelope["uuid"], envelope, client.next_wsc())
                )
        for context in self._contexts.detached():
            subscription = context.subscription
            if subscription is None or (rendered := render(subscription)) is None:
                continue
            timestamp = timestamp or wire.iso_ms(self._now())
            # Missed while the socket is away: replayed on recovery.
            context.missed.append(new_envelope(subscription, *rendered, timestamp))

    # -- control -----------------------------------------------------------------

    def session_ended(self, oauth_session_id: str) -> None:
        """An OAuth session was revoked or evicted: its sockets close."""
        self._contexts.forget_session(oauth_session_id)
        for client in list(self._clients):
            if client.oauth_session_id == oauth_session_id:
                self._clients.discard(client)
                client.close_after_pending(CLOSE_POLICY_CODE, "OAuth session ended")

    def drop_all(self, recoverable: bool) -> int:
        """Cut every socket as a network failure would (a fault)."""
        dropped = list(self._clients)
        for client in dropped:
            self._clients.discard(client)
            if recoverable:
                # Detach now, so events from here on go to the buffer.
                self._contexts.detach(client.context, client)
            else:
                self._contexts.forget(client.context)
            client.abort()
        return len(dropped)

    def sweep(self) -> None:
        """Enforce idle and absolute timeouts; purge stale contexts."""
        now = self._clock()
        for client in list(self._clients):
            if now - client.opened_at >= self._absolute_timeout:
                self._expire(client, "WSG-903", "Absolute timeout expired")
            elif now - client.last_activity >= self._idle_timeout:
                self._expire(client, "WSG-902", "Idle timeout expired")
        self._contexts.purge()

    async def sweep_forever(self, interval: float) -> None:
        """Run `sweep` every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            self.sweep()

    def _expire(self, client: WsClient, code: str, message: str) -> None:
        self._clients.discard(client)
        self._contexts.detach(client.context, client)
        client.send(frames.error(code, message, 400))
        client.close_after_pending(CLOSE_TIMEOUT_CODE, message)

    # -- one socket --------------------------------------------------------------

    async def _serve(self, connection: GatewayConnection) -> None:
        try:
            client = self._bind(connection)
        except MalformedToken:
            # docs/ringcentral.md 5.9: an Error frame, then the server closes.
            error = frames.error(
                "WSG-400", "Malformed WebSocket session context token", 400
            )
            with contextlib.suppress(ConnectionClosed):
                await connection.send(frames.dumps(error))
                await connection.close(CLOSE_POLICY_CODE, "Malformed wsc token")
            return
        writer = asyncio.create_task(client.write_forever())
        try:
            async for message in connection:
                self._on_message(client, message)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            self._contexts.detach(client.context, client)
            if client.close_queued:
                # Let a queued close (WSG-902, session end) go out first.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_TIMEOUT):
                        await asyncio.shield(writer)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _bind(self, connection: GatewayConnection) -> WsClient:
        """Create or recover the context; queue ConnectionDetails (+ replay).

        Raises MalformedToken for a `wsc` the gateway never issued.
        """
        session_id = connection.oauth_session_id
        recovery: Recovery | None = None
        if connection.wsc_token is None:
            context = self._contexts.create(session_id)
        else:
            recovery = self._contexts.recover(connection.wsc_token, session_id)
            context = recovery.context
        client = WsClient(connection, context, self._clock)
        context.owner = client
        self._clients.add(client)
        state = (recovery.state, recovery.error_code) if recovery else None
        details = frames.connection_details(
            client.next_wsc(), self._now(), self._limits, state
        )
        client.send(details)
        if recovery is not None:
            self._take_over(recovery, client)
        return client

    def _take_over(self, recovery: Recovery, client: WsClient) -> None:
        displaced = recovery.displaced
        if isinstance(displaced, WsClient) and displaced is not client:
            # The context moved to this socket; the old one is stale.
            self._clients.discard(displaced)
            displaced.abort()
        for envelope in recovery.replay:
            client.send(
                frames.notification(envelope["uuid"], envelope, client.next_wsc())
            )

    def _on_message(self, client: WsClient, message: str | bytes) -> None:
        # Any client frame is traffic for the idle timer; pings are not.
        client.last_activity = self._clock()
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
        injected = self._faults.take_http_status(url.path)
        if injected is not None:
            return reject_handshake(injected.status, json.loads(injected.body))
        if url.path.rstrip("/") != "/ws":
            return reject_handshake(404, error_body("CMN-120", "Invalid URI"))
        query = parse_qs(url.query)
        token = query.get("access_token", [""])[0]
        session_id = self._tokens.consume_ws_token(token) if token else None
        if session_id is None:
            return reject_handshake(401, error_body("OAU-213", "Token not found"))
        assert isinstance(connection, GatewayConnection)
        connection.oauth_session_id = session_id
        connection.wsc_token = query.get("wsc", [None])[0]
        return None
