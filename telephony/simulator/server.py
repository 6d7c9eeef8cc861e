"""`Simulator`: the embedded RingCentral on one loopback port.

Wires the pieces together: the pure engine and token store, the floor that
plays calls over time, the REST, control and gateway handlers, and the
asyncio server that carries HTTP and WebSocket on the same port. It runs
inside whatever event loop is already running (daphne's, pytest's).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime

from websockets.asyncio.server import Server

from telephony.simulator.auth import TokenStore
from telephony.simulator.callcontrol import CallControl
from telephony.simulator.config import SimulatorConfig
from telephony.simulator.control import ControlApi
from telephony.simulator.defaults import (
    ACCOUNT_ID,
    AGENTS,
    COMPANY_NUMBER,
    OWNER,
    SERVER_ID,
)
from telephony.simulator.engine import CallEngine, PartyChange
from telephony.simulator.errors import error_body
from telephony.simulator.floor import Floor
from telephony.simulator.gateway import Gateway
from telephony.simulator.gateway_requests import ClientRequests, Scope
from telephony.simulator.httpserver import (
    Connections,
    HttpProtocol,
    Request,
    Response,
    json_response,
)
from telephony.simulator.oauth import OAuthEndpoints
from telephony.simulator.rest import RestApi

logger = logging.getLogger("telephony.simulator")

# How long stop() waits for closed HTTP connections to be released.
CLOSE_GRACE_SECONDS = 1.0


def utc_now() -> datetime:
    """Wall-clock time for timestamps on the wire."""
    return datetime.now(UTC)


class Simulator:
    """A loopback RingCentral: REST, WebSocket gateway, generated floor."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        rng = random.Random(config.seed)
        self._tokens = _token_store(config)
        engine = CallEngine(
            account_id=ACCOUNT_ID, clock=utc_now, rng=rng, sink=self._publish
        )
        self._floor = Floor(
            engine=engine,
            rng=rng,
            agents=AGENTS,
            company_number=COMPANY_NUMBER,
            speed=config.speed,
            generate=config.profile == "demo",
        )
        self._rest = RestApi(
            tokens=self._tokens,
            oauth=self._oauth(config),
            calls=CallControl(engine),
            account_id=ACCOUNT_ID,
        )
        self._control = ControlApi(self._floor)
        self._gateway = self._build_gateway()
        self._connections = Connections()
        self._server: Server | None = None
        self._url: str | None = None

    def _oauth(self, config: SimulatorConfig) -> OAuthEndpoints:
        return OAuthEndpoints(
            tokens=self._tokens,
            client_id=config.client_id,
            client_secret=config.client_secret,
            jwt=config.jwt,
            ws_uri=self._ws_uri,
        )

    def _build_gateway(self) -> Gateway:
        scope = Scope(
            account_id=ACCOUNT_ID,
            owner_id=OWNER.extension_id,
            extensions=frozenset(a.extension_id for a in AGENTS),
            server_id=SERVER_ID,
            base_url=lambda: self.url,
        )
        requests = ClientRequests(
            tokens=self._tokens, rest=self._rest, scope=scope, now=utc_now
        )
        return Gateway(tokens=self._tokens, requests=requests, scope=scope, now=utc_now)

    @property
    def url(self) -> str:
        """REST base URL, e.g. http://127.0.0.1:9100 (after start)."""
        if self._url is None:
            raise RuntimeError("simulator is not started")
        return self._url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind the port (0 = ephemeral) and start the floor."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        loop = asyncio.get_running_loop()

        def connection() -> HttpProtocol:
            return HttpProtocol(self._handle, self._gateway.upgrade, self._connections)

        async def create_server() -> asyncio.Server:
            return await loop.create_server(connection, host, port)

        server = Server(
            create_server,
            self._gateway.handle,
            logging.getLogger("telephony.simulator.gateway"),
        )
        self._gateway.server = server
        await server
        self._server = server
        bound_host, bound_port = server.sockets[0].getsockname()[:2]
        self._url = f"http://{_url_host(bound_host)}:{bound_port}"
        self._floor.start()
        logger.info("RingCentral simulator listening on %s", self._url)

    async def stop(self) -> None:
        """Close every socket and cancel the floor; leaves no task behind."""
        await self._floor.stop()
        if self._server is None:
            return
        self._server.close()
        self._connections.close_all()
        await self._server.wait_closed()
        # connection_lost runs on a later loop iteration; wait for it so
        # no transport outlives the simulator.
        async with asyncio.timeout(CLOSE_GRACE_SECONDS):
            await self._connections.wait_closed()
        self._server = None
        logger.info("RingCentral simulator stopped")

    def _handle(self, request: Request) -> Response:
        if request.path.startswith("/restapi/"):
            return self._rest.handle(request)
        if request.path.startswith("/_sim/"):
            return self._control.handle(request)
        return json_response(404, error_body("CMN-120", "Invalid URI"))

    def _publish(self, change: PartyChange) -> None:
        # Late-bound: the engine is built before the gateway exists.
        self._gateway.publish(change)

    def _ws_uri(self, request: Request) -> str:
        # The Host the client used reaches us even through port mappings.
        host = request.header("host") or self.url.removeprefix("http://")
        return f"ws://{host}/ws"


def _token_store(config: SimulatorConfig) -> TokenStore:
    return TokenStore(
        owner_id=OWNER.extension_id,
        clock=time.monotonic,
        access_ttl=config.access_token_ttl,
        refresh_ttl=config.refresh_token_ttl,
        ws_ttl=config.ws_token_ttl,
    )


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
