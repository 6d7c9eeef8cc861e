"""Configuration of one simulator instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT

Profile = Literal["demo", "none"]
PROFILES: tuple[Profile, ...] = ("demo", "none")


@dataclass(frozen=True)
class SimulatorConfig:
    """What the simulator accepts and how busy its floor is.

    Attributes:
        client_id, client_secret, jwt: the only credentials the token
            endpoint accepts.
        profile: "demo" generates traffic to the ten agents; "none" keeps
            the floor silent except for calls placed through /_sim/calls.
        speed: divides every simulated duration (ring, talk, hold, gaps
            between calls); 10.0 plays ten minutes in one.
        seed: makes ids, callers and timings of the floor reproducible.
        access_token_ttl, refresh_token_ttl, ws_token_ttl: token lifetimes
            in seconds (platform defaults); lower them to test expiry.
    """

    client_id: str = LOCAL_CLIENT_ID
    client_secret: str = LOCAL_CLIENT_SECRET
    jwt: str = LOCAL_JWT
    profile: Profile = "demo"
    speed: float = 1.0
    seed: int | None = None
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 604_800
    ws_token_ttl: int = 600

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, not {self.profile!r}")
        if not self.speed > 0:
            raise ValueError(f"speed must be positive, not {self.speed!r}")
        if not (self.client_id and self.client_secret and self.jwt):
            raise ValueError("client_id, client_secret and jwt must not be empty")
