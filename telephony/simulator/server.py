"""`Simulator`: the embedded RingCentral on one loopback port.

Wires the pieces together: the pure engine and token store, the floor that
plays calls over time, the REST (Call Control, discovery), control and
gateway handlers, rate limits and injected faults, and the asyncio server
that carries HTTP and WebSocket on the same port. It runs inside whatever
event loop is already running (daphne's, pytest's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from websockets.asyncio.server import Server

from telephony.simulator.config import SimulatorConfig
from telephony.simulator.control.control import ControlApi
from telephony.simulator.control.faultsapi import PATH as FAULTS_PATH, FaultsApi
from telephony.simulator.defaults import SERVER_ID
from telephony.simulator.engine.account import Account
from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.model import PartyChange
from telephony.simulator.engine.presence import PresenceBook, PresenceChange
from telephony.simulator.faults import Faults
from telephony.simulator.floor.floor import Floor
from telephony.simulator.floor.profiles import profile_named
from telephony.simulator.gateway.frames import connection_limits
from telephony.simulator.gateway.gateway import Gateway
from telephony.simulator.gateway.gateway_requests import ClientRequests, Scope
from telephony.simulator.gateway.recovery import ContextStore
from telephony.simulator.rest.auth import TokenStore
from telephony.simulator.rest.callcontrol import CallControl
from telephony.simulator.rest.callqueues import CallQueues
from telephony.simulator.rest.discovery import Directory
from telephony.simulator.rest.errors import error_body
from telephony.simulator.rest.httpserver import (
    Connections,
    HttpProtocol,
    Request,
    Response,
    json_response,
)
from telephony.simulator.rest.oauth import OAuthEndpoints
from telephony.simulator.rest.presence import ActiveCalls, Presence
from telephony.simulator.rest.ratelimit import RateLimiter
from telephony.simulator.rest.rest import RestApi

logger = logging.getLogger("telephony.simulator")

# How long stop() waits for closed HTTP connections to be released.
CLOSE_GRACE_SECONDS = 1.0
# Upper bound of the housekeeping period (timeouts are checked this often).
SWEEP_SECONDS = 1.0


def utc_now() -> datetime:
    """Wall-clock time for timestamps on the wire."""
    return datetime.now(UTC)


class Simulator:
    """A loopback RingCentral: REST, WebSocket gateway, generated floor.

    `clock` (monotonic seconds) drives token expiry, rate limits, gateway
    timeouts, recovery and active-calls lag; tests inject a fake one and
    call `sweep()` after moving it.
    """

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        rng = random.Random(config.seed)
        profile = profile_named(config.profile)
        self.account = account = profile.account()
        self._tokens = _token_store(config, account, clock)
        self._limiter = RateLimiter(config.rate_limits, clock=clock)
        self._faults = Faults(config.seed)
        engine = CallEngine(
            account_id=account.id, clock=utc_now, rng=rng, sink=self._publish
        )
        self.presence = PresenceBook(
            engine,
            tracked=(a.extension_id for a in account.agents),
            now=utc_now,
            sink=self._publish_presence,
        )
        self._floor = Floor(
            engine=engine,
            rng=rng,
            account=account,
            profile=profile,
            speed=config.speed,
            presence=self.presence,
            # Its own stream: agents stepping away must not shift the calls.
            spell_rng=random.Random(
                None if config.seed is None else f"spells-{config.seed}"
            ),
        )
        self._rest = RestApi(
            tokens=self._tokens,
            oauth=self._oauth(config),
            calls=CallControl(engine, account, follow_up=self._floor.follow_up),
            account_id=account.id,
            clock=clock,
            limiter=self._limiter,
        )
        self._active_calls = self._discovery(engine)
        self._control = ControlApi(self._floor, self.presence)
        self._gateway = self._build_gateway()
        self._faults_api = FaultsApi(
            self._faults,
            drop_websockets=self._gateway.drop_all,
            expire_tokens=self._tokens.expire_access_tokens,
        )
        self._connections = Connections()
        self._server: Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._url: str | None = None

    def _oauth(self, config: SimulatorConfig) -> OAuthEndpoints:
        return OAuthEndpoints(
            tokens=self._tokens,
            client_id=config.client_id,
            client_secret=config.client_secret,
            jwt=config.jwt,
            ws_uri=self._ws_uri,
        )

    def _discovery(self, engine: CallEngine) -> ActiveCalls:
        """Serve presence, extensions, devices, call queues and active calls."""
        directory = Directory(self.account, lambda: self.url)
        active_calls = ActiveCalls(
            directory=directory,
            clock=self._clock,
            now=utc_now,
            # Its own RNG: lags must not shift the floor's random stream.
            rng=random.Random(self.config.seed),
            speed=self.config.speed,
        )
        presence = Presence(self.presence, directory)
        queues = CallQueues(self.account, directory)
        self._rest.add_routes(
            (
                *directory.routes(),
                *queues.routes(),
                *presence.routes(),
                *active_calls.routes(),
            )
        )
        return active_calls

    def _build_gateway(self) -> Gateway:
        config = self.config
        scope = Scope(
            account_id=self.account.id,
            owner_id=self.account.owner.extension_id,
            extensions=self.account.extension_ids(),
            server_id=SERVER_ID,
            base_url=lambda: self.url,
        )
        requests = ClientRequests(
            tokens=self._tokens,
            rest=self._rest,
            scope=scope,
            now=utc_now,
            limiter=self._limiter,
        )
        contexts = ContextStore(
            clock=self._clock,
            timeout=config.recovery_timeout,
            buffer_size=config.recovery_buffer_size,
        )
        limits = connection_limits(
            idle=config.idle_timeout,
            absolute=config.absolute_timeout,
            recovery=config.recovery_timeout,
            buffer_size=config.recovery_buffer_size,
        )
        return Gateway(
            tokens=self._tokens,
            requests=requests,
            scope=scope,
            now=utc_now,
            clock=self._clock,
            contexts=contexts,
            faults=self._faults,
            limits=limits,
            idle_timeout=config.idle_timeout,
            absolute_timeout=config.absolute_timeout,
        )

    @property
    def engine(self) -> CallEngine:
        """The call engine (ground truth; benchmarks drive it directly)."""
        return self._floor.engine

    @property
    def floor(self) -> Floor:
        """The generated floor (pause it, read its profile)."""
        return self._floor

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
        self._sweeper = loop.create_task(
            self._gateway.sweep_forever(_sweep_interval(self.config))
        )
        logger.info("RingCentral simulator listening on %s", self._url)

    async def stop(self) -> None:
        """Close every socket and cancel the floor; leaves no task behind."""
        await self._floor.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        self._faults.clear()
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

    def sweep(self) -> None:
        """Run the periodic housekeeping now (gateway timeouts, recovery).

        It also runs by itself; tests with an injected clock call it right
        after moving the clock instead of waiting for the next period.
        """
        self._gateway.sweep()

    def _handle(self, request: Request) -> Response:
        if request.path == FAULTS_PATH:
            return self._faults_api.handle(request)
        if request.path == "/_sim/subscriptions" and request.method == "GET":
            subscriptions = self._gateway.subscriptions()
            return json_response(200, {"subscriptions": subscriptions})
        if request.path.startswith("/_sim/"):
            return self._control.handle(request)
        injected = self._faults.take_http_status(request.path)
        if injected is not None:
            return injected
        delay = self._faults.take_delay(request.path)
        if request.path.startswith("/restapi/"):
            response = self._rest.handle(request)
        else:
            response = json_response(404, error_body("CMN-120", "Invalid URI"))
        response.delay = delay
        return response

    def _publish(self, change: PartyChange) -> None:
        # Late-bound: the engine is built before the gateway exists. The
        # active-calls view sees every change; faults act on delivery only.
        self._active_calls.observe(change)
        self._gateway.publish(change)

    def _publish_presence(self, change: PresenceChange) -> None:
        # Late-bound like _publish; presence follows the telephony event.
        self._gateway.publish_presence(change)

    def _ws_uri(self, request: Request) -> str:
        # The Host the client used reaches us even through port mappings.
        host = request.header("host") or self.url.removeprefix("http://")
        return f"ws://{host}/ws"


def _token_store(
    config: SimulatorConfig, account: Account, clock: Callable[[], float]
) -> TokenStore:
    return TokenStore(
        owner_id=account.owner.extension_id,
        clock=clock,
        access_ttl=config.access_token_ttl,
        refresh_ttl=config.refresh_token_ttl,
        ws_ttl=config.ws_token_ttl,
    )


def _sweep_interval(config: SimulatorConfig) -> float:
    # A quarter of the shortest timeout keeps expiry within 25 % of it.
    shortest = min(
        config.idle_timeout, config.absolute_timeout, config.recovery_timeout
    )
    return max(0.005, min(SWEEP_SECONDS, shortest / 4))


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
