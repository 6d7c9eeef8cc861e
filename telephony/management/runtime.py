"""Build the worker's parts from Django settings (management commands only)."""

from __future__ import annotations

from django.conf import settings

from telephony.client import RingCentralClient


def client_from_settings(server_url: str | None = None) -> RingCentralClient:
    """A RingCentral client for `server_url` or RINGCENTRAL_SERVER_URL."""
    return RingCentralClient(
        server_url=server_url or settings.RINGCENTRAL_SERVER_URL,
        client_id=settings.RINGCENTRAL_CLIENT_ID,
        client_secret=settings.RINGCENTRAL_CLIENT_SECRET,
        jwt=settings.RINGCENTRAL_JWT,
    )
