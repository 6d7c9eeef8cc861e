"""`manage.py serve`: the whole product in ONE process.

daphne serves the dashboard; the telephony worker and (unless
RINGCENTRAL_SERVER_URL is set) the embedded RingCentral run as tasks on
daphne's asyncio loop, joined by the in-memory channel layer. daphne does
not implement ASGI lifespan (django/daphne#264), so the tasks are started
with `reactor.callWhenRunning` (docs/development.md 2).
"""

from __future__ import annotations

# daphne.server installs the asyncio reactor: it must come before twisted.
import daphne.server

# isort: split

import argparse
import asyncio
import gc
import logging
import os
import secrets
import socket
from typing import Any

from channels.layers import get_channel_layer
from channels.routing import get_default_application
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from twisted.internet import defer, reactor

from telephony.management.runtime import client_from_settings, simulator_credentials
from telephony.ringcentral.client import RingCentralClient
from telephony.simulator.config import PROFILES
from telephony.worker import TelephonyWorker

logger = logging.getLogger("telephony.serve")

DEMO_USERNAME = "supervisor"
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
}


def _positive(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _check_free(host: str, port: int) -> None:
    """Refuse to start, with a clear message, when a port is taken."""
    if port == 0:
        return
    with socket.socket() as sock:
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
        embedded = not settings.RINGCENTRAL_SERVER_URL
        for port in (options["port"], options["simulator_port"] if embedded else 0):
            _check_free(
                options["host"] if port == options["port"] else "127.0.0.1", port
            )
        options["speed"] = options["speed"] or settings.SIMULATOR_SPEED
        # settings.ASGI_APPLICATION, as daphne's runserver loads it.
        application = get_default_application()
        if not options["no_demo_user"]:
            self._ensure_demo_user()
        self._tasks: set[asyncio.Task[None]] = set()
        self._cleanup: list[Any] = []
        server = daphne.server.Server(
            application=application,
            endpoints=[f"tcp:port={options['port']}:interface={options['host']}"],
            signal_handlers=True,
            verbosity=0,
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
        user.user_permissions.add(
            *Permission.objects.filter(
                codename__in=["control_calls", "view_commandaudit"]
            )
        )
        self.stdout.write(
            f"Created the demo supervisor. Log in as '{DEMO_USERNAME}' with password "
            f"'{password}' (shown only this once)."
        )

    def _start_background(self, options: dict[str, Any]) -> None:
        # Called before the loop runs: get_running_loop() would raise here.
        loop = asyncio.get_event_loop()
        task = loop.create_task(self._background(options))
        self._tasks.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())

    async def _background(self, options: dict[str, Any]) -> None:
        device_id = settings.RINGCENTRAL_SUPERVISOR_DEVICE_ID or None
        if settings.RINGCENTRAL_SERVER_URL:
            client = client_from_settings()
        else:
            simulator = await self._start_simulator(options)
            client = RingCentralClient(
                server_url=simulator.url, **simulator_credentials()
            )
            # The JWT's user is the supervisor; Listen rings their desk phone.
            owner = simulator.account.owner
            device_id = device_id or next(
                d.id
                for d in simulator.account.devices_of(owner.extension_id)
                if d.status == "Online"
            )
        self._cleanup.append(client.aclose)
        logger.info("worker following %s", client.server_url)
        worker = TelephonyWorker(
            client=client, layer=get_channel_layer(), supervisor_device_id=device_id
        )
        await worker.run()

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
        self._cleanup.append(simulator.stop)
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
        for task in list(self._tasks):
            task.cancel()
        return defer.Deferred.fromFuture(asyncio.ensure_future(self._close()))

    async def _close(self) -> None:
        # Let the worker finish its shutdown (the last history flush)
        # before closing what it uses; bounded, so Ctrl-C never hangs.
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        for close in reversed(self._cleanup):
            try:
                await close()
            except Exception:
                logger.exception("error during shutdown")
