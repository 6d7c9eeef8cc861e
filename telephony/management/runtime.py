"""Build the worker's parts from Django settings (management commands only)."""

from __future__ import annotations

from typing import TypedDict

from django.conf import settings

from telephony.ringcentral.client import RingCentralClient


def client_from_settings(server_url: str | None = None) -> RingCentralClient:
    """A RingCentral client for `server_url` or RINGCENTRAL_SERVER_URL."""
    return RingCentralClient(
        server_url=server_url or settings.RINGCENTRAL_SERVER_URL,
        client_id=settings.RINGCENTRAL_CLIENT_ID,
        client_secret=settings.RINGCENTRAL_CLIENT_SECRET,
        jwt=settings.RINGCENTRAL_JWT,
    )


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
