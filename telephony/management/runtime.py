"""Build the worker's parts from Django settings (management commands only)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypedDict

from django.conf import settings
from psycopg.conninfo import make_conninfo

from telephony.ringcentral.client import RingCentralClient
from telephony.worker import TelephonyWorker
from telephony.worker.leader import Fence, FencedLayer, Leadership
from telephony.worker.lease import Lease, PostgresLease, RedisLease, SoloLease

logger = logging.getLogger("telephony.worker")


def client_from_settings(
    server_url: str | None = None, *, guard: Callable[[], None] | None = None
) -> RingCentralClient:
    """A RingCentral client for `server_url` or RINGCENTRAL_SERVER_URL."""
    return RingCentralClient(
        server_url=server_url or settings.RINGCENTRAL_SERVER_URL,
        client_id=settings.RINGCENTRAL_CLIENT_ID,
        client_secret=settings.RINGCENTRAL_CLIENT_SECRET,
        jwt=settings.RINGCENTRAL_JWT,
        guard=guard,
    )


def lease_from_settings(*, solo: bool = False) -> Lease:
    """The lease the workers compete for: in Redis when REDIS_URL is set,
    else a PostgreSQL advisory lock, else (SQLite, or `solo`) none."""
    if solo:
        return SoloLease()
    if settings.REDIS_URL:
        return RedisLease(settings.REDIS_URL)
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.postgresql":
        return PostgresLease(
            make_conninfo(
                dbname=database["NAME"],
                user=database.get("USER") or None,
                password=database.get("PASSWORD") or None,
                host=database.get("HOST") or None,
                port=database.get("PORT") or None,
            )
        )
    return SoloLease()


class LeaderWorker:
    """A TelephonyWorker for each term this process leads: its own client
    (a new OAuth session), fenced channel layer and epoch."""

    def __init__(
        self,
        *,
        layer: Any,
        lease: Lease,
        make_client: Callable[[Callable[[], None]], RingCentralClient],
        supervisor_device_id: str | None = None,
    ) -> None:
        self.layer = layer
        self.make_client = make_client
        self.supervisor_device_id = supervisor_device_id
        self.leadership = Leadership(lease)
        self.worker: TelephonyWorker | None = None  # the latest term's

    async def run(self) -> None:
        """Stand by, lead, stand by again, until cancelled."""
        try:
            await self.leadership.serve(self._term)
        finally:
            await self.leadership.lease.aclose()

    async def _term(self, fence: Fence) -> None:
        client = self.make_client(fence.check)
        logger.info("worker following %s", client.server_url)
        self.worker = TelephonyWorker(
            client=client,
            layer=FencedLayer(self.layer, fence),
            supervisor_device_id=self.supervisor_device_id,
            fence=fence,
        )
        try:
            await self.worker.run()
        finally:
            await client.aclose()


class Credentials(TypedDict):
    client_id: str
    client_secret: str
    jwt: str


def simulator_credentials() -> Credentials:
    """RINGCENTRAL_* settings when set (non-empty), else the embedded
    RingCentral's documented local defaults."""
    from telephony.simulator.defaults import (
        LOCAL_CLIENT_ID,
        LOCAL_CLIENT_SECRET,
        LOCAL_JWT,
    )

    return {
        "client_id": settings.RINGCENTRAL_CLIENT_ID or LOCAL_CLIENT_ID,
        "client_secret": settings.RINGCENTRAL_CLIENT_SECRET or LOCAL_CLIENT_SECRET,
        "jwt": settings.RINGCENTRAL_JWT or LOCAL_JWT,
    }
