"""`manage.py telephony_worker`: the worker alone (scaled deployment)."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telephony.management.runtime import client_from_settings
from telephony.worker import TelephonyWorker

logger = logging.getLogger("telephony.worker")


class Command(BaseCommand):
    help = "Follow the account's RingCentral telephony sessions and serve consoles."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.RINGCENTRAL_SERVER_URL:
            raise CommandError(
                "RINGCENTRAL_SERVER_URL is not set (use `manage.py serve` for the "
                "embedded RingCentral)."
            )
        if asyncio.run(self._run()) is not None:
            raise CommandError("the worker stopped: see the error above")

    async def _run(self) -> Exception | None:
        client = client_from_settings()
        worker = TelephonyWorker(client=client, layer=get_channel_layer())
        task = asyncio.create_task(worker.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            logger.info("worker stopped by signal")
        finally:
            await client.aclose()
        return worker.fatal
