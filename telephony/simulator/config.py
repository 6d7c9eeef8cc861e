"""Configuration of one simulator instance."""

from __future__ import annotations

from dataclasses import dataclass, field

from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT
from telephony.simulator.floor.profiles import PROFILE_NAMES
from telephony.simulator.rest.ratelimit import RateLimits

# Floor profiles are defined in floor/profiles.py ("none", "demo", …).
Profile = str
PROFILES: tuple[str, ...] = PROFILE_NAMES


@dataclass(frozen=True)
class SimulatorConfig:
    """What the simulator accepts and how busy its floor is.

    Attributes:
        client_id, client_secret, jwt: the only credentials the token
            endpoint accepts.
        profile: a name from floor/profiles.py: "demo" generates traffic to the
            ten agents; "none" keeps the floor silent except for calls
            placed through /_sim/calls.
        speed: divides every simulated duration (ring, talk, hold, gaps
            between calls, active-calls lag and linger); 10.0 plays ten
            minutes in one.
        seed: makes ids, callers, timings of the floor and injected faults
            reproducible.
        access_token_ttl, refresh_token_ttl, ws_token_ttl: token lifetimes
            in seconds (platform defaults); lower them to test expiry.
        rate_limits: enforced limits per throttling group; None reports the
            platform's defaults in the headers but never answers 429.
        idle_timeout, absolute_timeout: seconds after which the gateway
            sends WSG-902 / WSG-903 and closes a socket (ConnectionDetails
            reports them rounded up to whole seconds).
        recovery_timeout, recovery_buffer_size: how long a dropped socket's
            session context can be recovered with `wsc`, and how many
            missed notifications are replayed at most.
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
    rate_limits: RateLimits | None = field(default_factory=RateLimits)
    idle_timeout: float = 1800.0
    absolute_timeout: float = 86_400.0
    recovery_timeout: float = 180.0
    recovery_buffer_size: int = 100

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, not {self.profile!r}")
        if not self.speed > 0:
            raise ValueError(f"speed must be positive, not {self.speed!r}")
        if not (self.client_id and self.client_secret and self.jwt):
            raise ValueError("client_id, client_secret and jwt must not be empty")
        timeouts = (self.idle_timeout, self.absolute_timeout, self.recovery_timeout)
        if not all(t > 0 for t in timeouts):
            raise ValueError("gateway timeouts must be positive")
        if self.recovery_buffer_size < 0:
            raise ValueError("recovery_buffer_size must not be negative")
