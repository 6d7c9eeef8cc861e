"""`manage.py ringcentral_simulator`: the embedded RingCentral on its own.

Runs the loopback simulator (REST, WebSocket gateway and generated floor on
one port) until SIGINT or SIGTERM, for demos and for pointing a separately
run worker at it (`RINGCENTRAL_SERVER_URL=http://127.0.0.1:9100`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from telephony import gc_policy
from telephony.management.runtime import simulator_credentials
from telephony.simulator import Simulator, SimulatorConfig
from telephony.simulator.config import PROFILES
from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT

logger = logging.getLogger("telephony.simulator")


class Command(BaseCommand):
    help = "Run the embedded RingCentral simulator (REST + WebSocket) on one port."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=9100, help="0: any free port")
        parser.add_argument(
            "--profile",
            choices=PROFILES,
            default="demo",
            help="floor: none, office, demo, contact-centre, load-5000",
        )
        parser.add_argument(
            "--speed", type=float, default=1.0, help="divides every call duration"
        )
        parser.add_argument("--seed", type=int, default=None, help="reproducible floor")

    def handle(self, *args: Any, **options: Any) -> None:
        config = SimulatorConfig(
            **simulator_credentials(),
            profile=options["profile"],
            speed=options["speed"],
            seed=options["seed"],
        )
        # Its floor is as large as the worker's: keep the collector from
        # stalling its events (telephony.gc_policy).
        gc_policy.install()
        asyncio.run(serve(config, host=options["host"], port=options["port"]))


def describe_credentials(config: SimulatorConfig) -> str:
    """What to log about the accepted credentials.

    The local defaults are public and printed in full so a developer can
    copy them; configured ones may be real, so only the client id shows.
    """
    defaults = (LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT)
    if (config.client_id, config.client_secret, config.jwt) == defaults:
        return (
            f"RINGCENTRAL_CLIENT_ID={config.client_id} "
            f"RINGCENTRAL_CLIENT_SECRET={config.client_secret} "
            f"RINGCENTRAL_JWT={config.jwt}"
        )
    return (
        f"RINGCENTRAL_CLIENT_ID={config.client_id} with the secret and JWT "
        "from settings"
    )


async def serve(
    config: SimulatorConfig, *, host: str, port: int, stop: asyncio.Event | None = None
) -> None:
    """Run the simulator until `stop` is set (by SIGINT/SIGTERM by default)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    simulator = Simulator(config)
    await simulator.start(host=host, port=port)
    logger.info(
        "RINGCENTRAL_SERVER_URL=%s accepts %s",
        simulator.url,
        describe_credentials(config),
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await simulator.stop()
