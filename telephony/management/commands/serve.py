"""`manage.py serve`: the whole product in ONE process.

daphne serves the dashboard on its asyncio loop; the telephony worker and
(unless RINGCENTRAL_SERVER_URL is set) the embedded RingCentral each run on
a loop of their own in a thread (telephony.management.loops), so neither
waits behind the dashboard's traffic; the worker reaches the in-memory
channel layer on daphne's loop through a bridge. daphne does not implement
ASGI lifespan (django/daphne#264), so they are started with
`reactor.callWhenRunning` (docs/development.md 2).
"""

from __future__ import annotations

# daphne.server installs the asyncio reactor: it must come before twisted.
import daphne.server

# isort: split

import argparse
import asyncio
import concurrent.futures
import contextlib
import gc
import logging
import os
import secrets
import socket
from collections.abc import Callable
from typing import Any

from channels.layers import get_channel_layer
from channels.routing import get_default_application
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from twisted.internet import defer, reactor

from telephony import gc_policy
from telephony.management.loops import LayerBridge, LoopThread
from telephony.management.runtime import (
    LeaderWorker,
    client_from_settings,
    lease_from_settings,
    simulator_credentials,
)
from telephony.ringcentral.client import RingCentralClient
from telephony.simulator.config import PROFILES
from telephony.worker import TelephonyWorker

logger = logging.getLogger("telephony.serve")

DEMO_USERNAME = "supervisor"
# Pending connections the listening socket queues (Twisted's default is 50).
LISTEN_BACKLOG = 1024
HANDSHAKE_TIMEOUT = 20
# The collector's thresholds in serve (Python's defaults: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 100)
# The embedded RingCentral's port, fixed so its control and fault API has a
# documented address (README); --simulator-port or SIMULATOR_PORT change it.
SIMULATOR_PORT = 9100
# One line per floor for --help (definitions: telephony/simulator/floor).
PROFILE_HELP = {
    "none": "silent, calls only through the control API",
    "office": "10 agents, a call a minute",
    "demo": "10 agents in 2 queues, a call every 20 s",
    "contact-centre": "400 agents in 8 queues, ~250 live calls",
    "load-5000": "10,000 agents in 20 queues, ~5,000 live calls",
    "load-2000": "4,000 agents in 10 queues, ~2,000 live calls at ~300 events/s",
}


def _positive(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _check_migrated() -> None:
    """Refuse to serve a database that lacks tables (history would fail)."""
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise CommandError(
            "the database is not migrated: run `python manage.py migrate` first "
            "(`make run` does)."
        )


def _check_free(host: str, port: int) -> None:
    """Refuse to start, with a clear message, when a port is taken."""
    if port == 0:
        return
    with socket.socket() as sock:
        # As the servers themselves do, so a port left in TIME_WAIT by the
        # last run does not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {host}:{port} ({exc.strerror}); is Switchboard "
                "already running? Choose another with --port / --simulator-port."
            ) from None


class Command(BaseCommand):
    help = "Run the dashboard, the telephony worker and the embedded RingCentral."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PORT", 8000))
        )
        parser.add_argument(
            "--simulator-port",
            type=int,
            default=int(os.environ.get("SIMULATOR_PORT", SIMULATOR_PORT)),
            help=f"port of the embedded RingCentral (default {SIMULATOR_PORT}; "
            "0: any free port)",
        )
        parser.add_argument(
            "--profile",
            choices=PROFILES,
            default="demo",
            help="the embedded RingCentral's call floor: "
            + "; ".join(f"{name}: {PROFILE_HELP[name]}" for name in PROFILES),
        )
        parser.add_argument(
            "--speed",
            type=_positive,
            default=None,
            help="speed factor of the floor (default SIMULATOR_SPEED or 1; "
            "2 plays it twice as fast)",
        )
        parser.add_argument("--no-demo-user", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        _check_free(options["host"], options["port"])
        if not settings.RINGCENTRAL_SERVER_URL:
            _check_free("127.0.0.1", options["simulator_port"])
        options["speed"] = options["speed"] or settings.SIMULATOR_SPEED
        _check_migrated()
        # settings.ASGI_APPLICATION, as daphne's runserver loads it.
        application = get_default_application()
        if not options["no_demo_user"]:
            self._ensure_demo_user()
        self._threads: list[LoopThread] = []
        self._worker: concurrent.futures.Future[None] | None = None
        self._simulator: Any = None
        server = daphne.server.Server(
            application=application,
            # A deep accept queue: 1,000 consoles reconnecting at once (after
            # a restart) must not see handshakes reset.
            endpoints=[
                f"tcp:port={options['port']}:interface={options['host']}"
                f":backlog={LISTEN_BACKLOG}"
            ],
            signal_handlers=True,
            verbosity=0,
            # Handshakes wait for the session lookup; in a stampede of
            # reconnecting consoles they queue, so allow more than 5 s.
            websocket_handshake_timeout=HANDSHAKE_TIMEOUT,
        )
        reactor.callWhenRunning(self._start_background, options)
        reactor.addSystemEventTrigger(
            "before",
            "shutdown",  # type: ignore[arg-type]  # twisted's stub is wrong here
            self._stop_background,
        )
        self.stdout.write(
            f"Switchboard: http://{options['host']}:{options['port']}/  (Ctrl-C stops)"
        )
        # Everything loaded so far lives for the whole run: keep it out of
        # the collector's full passes, which otherwise stall the live feed
        # for 25-50 ms every few seconds (docs/performance.md 7 item 5).
        gc.collect()
        gc.freeze()
        # What arrives later (the floor, the consoles, their frames) makes
        # few reference cycles but many allocations: with the default
        # thresholds a full collection walked the whole heap every 2-3 s at
        # 1,000 consoles, stalling every thread 50-210 ms (measured).
        gc.set_threshold(*GC_THRESHOLDS)
        # And what arrives later is frozen as it settles (the floor is
        # loaded after start-up): telephony.gc_policy.
        gc_policy.install()
        server.run()

    def _ensure_demo_user(self) -> None:
        users = get_user_model()
        if users.objects.filter(username=DEMO_USERNAME).exists():
            self.stdout.write(
                f"Log in as '{DEMO_USERNAME}' with the password printed on the first "
                f"run (forgot it? python manage.py changepassword {DEMO_USERNAME})."
            )
            return
        password = secrets.token_urlsafe(12)
        user = users.objects.create_user(
            DEMO_USERNAME, password=password, is_staff=True
        )
        # A Supervisor (telephony/migrations/0007_roles.py): watches the
        # floor, acts on calls, reads the history in the admin.
        user.groups.add(Group.objects.get(name="Supervisor"))
        self.stdout.write(
            f"Created the demo supervisor. Log in as '{DEMO_USERNAME}' with password "
            f"'{password}' (shown only this once)."
        )

    def _start_background(self, options: dict[str, Any]) -> None:
        # Called before daphne's loop runs: get_running_loop() would raise.
        dashboard_loop = asyncio.get_event_loop()
        layer = LayerBridge(get_channel_layer(), dashboard_loop)
        device_id = settings.RINGCENTRAL_SUPERVISOR_DEVICE_ID or None
        server_url = settings.RINGCENTRAL_SERVER_URL
        if not server_url:
            simulator_thread = self._thread("ringcentral-simulator")
            self._simulator = simulator_thread.submit(self._start_simulator(options))
            simulator = self._simulator.result(timeout=30)
            server_url = simulator.url
            # The JWT's user is the supervisor; Listen rings their desk phone.
            owner = simulator.account.owner
            device_id = device_id or next(
                d.id
                for d in simulator.account.devices_of(owner.extension_id)
                if d.status == "Online"
            )
        worker_thread = self._thread("telephony-worker")
        self._worker = worker_thread.submit(
            self._run_worker(layer, server_url, device_id)
        )
        self._worker.add_done_callback(_log_failure)

    def _thread(self, name: str) -> LoopThread:
        thread = LoopThread(name).start()
        self._threads.append(thread)
        return thread

    async def _run_worker(
        self, layer: LayerBridge, server_url: str, device_id: str | None
    ) -> None:
        external = bool(settings.RINGCENTRAL_SERVER_URL)
        credentials = simulator_credentials() if not external else None

        def make_client(guard: Callable[[], None] | None) -> RingCentralClient:
            if credentials is None:
                return client_from_settings(guard=guard)
            return RingCentralClient(server_url=server_url, guard=guard, **credentials)

        if settings.REDIS_URL:
            # Over Redis other workers may run (docs/operations.md): stand
            # by until this one holds the lease.
            await LeaderWorker(
                layer=layer,
                lease=lease_from_settings(),
                make_client=make_client,
                supervisor_device_id=device_id,
            ).run()
            return
        # One process, an in-memory channel layer: no other worker could
        # serve these consoles, so this one leads without an election.
        client = make_client(None)
        logger.info("worker following %s", client.server_url)
        worker = TelephonyWorker(
            client=client, layer=layer, supervisor_device_id=device_id
        )
        try:
            await worker.run()
        finally:
            await client.aclose()

    async def _start_simulator(self, options: dict[str, Any]) -> Any:
        from telephony.simulator import Simulator, SimulatorConfig

        simulator = Simulator(
            SimulatorConfig(
                **simulator_credentials(),
                profile=options["profile"],
                speed=options["speed"],
                seed=None,
            )
        )
        await simulator.start(host="127.0.0.1", port=options["simulator_port"])
        self.stdout.write(
            f"Embedded RingCentral: {simulator.url}  (floor {options['profile']}, "
            f"speed {options['speed']:g})\n"
            f"  control: POST {simulator.url}/_sim/calls, "
            f"POST /_sim/calls/{{id}}/phone, GET /_sim/state\n"
            f"  faults:  GET|POST|DELETE {simulator.url}/_sim/faults  "
            "(docs/simulator.md: Control API)"
        )
        return simulator

    def _stop_background(self) -> defer.Deferred[None]:
        return defer.Deferred.fromFuture(
            asyncio.ensure_future(asyncio.to_thread(self._stop_threads))
        )

    def _stop_threads(self) -> None:
        """Let the worker finish (its last history flush), then stop the
        simulator; bounded, so Ctrl-C never hangs."""
        threads = {t.name: t for t in self._threads}
        if self._worker is not None:
            worker = threads["telephony-worker"]
            worker.loop.call_soon_threadsafe(self._worker.cancel)
            concurrent.futures.wait([self._worker], timeout=10)
            worker.stop()
        if self._simulator is not None and self._simulator.done():
            simulator = self._simulator.result()
            thread = threads["ringcentral-simulator"]
            with contextlib.suppress(Exception):
                thread.submit(simulator.stop()).result(timeout=10)
            thread.stop()


def _log_failure(future: concurrent.futures.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("the telephony worker failed", exc_info=future.exception())
