"""`manage.py telephony_worker`: the worker alone (scaled deployment).

Start it on two or more machines: one leads (holds the lease: Redis, or a
PostgreSQL advisory lock without Redis), the others stand by and take over
within 5 s when it dies (telephony.worker.leader; docs/operations.md).

`--metrics-port N` also serves Prometheus metrics (telephony.metrics) on
http://127.0.0.1:N/metrics, unauthenticated: keep it on an internal address
(`--metrics-addr`, loopback by default). See docs/operations.md.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from prometheus_client import start_http_server

from telephony import gc_policy
from telephony.management.runtime import (
    LeaderWorker,
    client_from_settings,
    lease_from_settings,
)

logger = logging.getLogger("telephony.worker")


class Command(BaseCommand):
    help = "Follow the account's RingCentral telephony sessions and serve consoles."

    # The metrics HTTP server while the command runs (tests read its port).
    metrics_server: Any = None

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=None,
            help="Serve Prometheus metrics on this port (0: any free port).",
        )
        parser.add_argument(
            "--metrics-addr",
            default="127.0.0.1",
            help="Address of the metrics server (default 127.0.0.1).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.RINGCENTRAL_SERVER_URL:
            raise CommandError(
                "RINGCENTRAL_SERVER_URL is not set (use `manage.py serve` for the "
                "embedded RingCentral)."
            )
        if options["metrics_port"] is not None:
            self.metrics_server, _ = start_http_server(
                options["metrics_port"], addr=options["metrics_addr"]
            )
            host, port = self.metrics_server.server_address[:2]
            logger.info("metrics on http://%s:%s/metrics", host, port)
        # The floor's objects outlive everything else here: keep the
        # collector's full passes from stalling the stream (gc_policy).
        gc_policy.install()
        try:
            if asyncio.run(self._run()) is not None:
                raise CommandError("the worker stopped: see the error above")
        finally:
            if self.metrics_server is not None:
                self.metrics_server.shutdown()
                self.metrics_server.server_close()

    async def _run(self) -> Exception | None:
        worker = LeaderWorker(
            layer=get_channel_layer(),
            lease=lease_from_settings(),
            make_client=lambda guard: client_from_settings(guard=guard),
            supervisor_device_id=settings.RINGCENTRAL_SUPERVISOR_DEVICE_ID or None,
        )
        task = asyncio.create_task(worker.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            logger.info("worker stopped by signal")
        return worker.worker.fatal if worker.worker else None
