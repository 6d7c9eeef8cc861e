"""Injected faults: what the network and the platform do on a bad day.

Event faults act on delivery only, at the gateway's single fan-out point:
the engine's state (`/_sim/state`) has already changed when an event is
dropped, delayed, duplicated or reordered. HTTP faults answer or slow down
the next requests under a path prefix. Random decisions come from one RNG
seeded from the simulator's seed, so a seeded run injects the same faults
into the same event stream every time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from telephony.simulator.rest.errors import error_body, oauth_body
from telephony.simulator.rest.httpserver import Response, json_response

T = TypeVar("T")
Deliver = Callable[[T, int], None]

# A held-back event waits at most this long for a later one to overtake
# it; "a short window", so reordering never looks like a lost event.
REORDER_WINDOW = 0.05

# Bodies of injected HTTP errors: the platform's code for each status
# (docs/ringcentral.md 3.1); other statuses fall back by class.
_STATUS_ERRORS = {
    400: ("CMN-101", "Parameter value is invalid"),
    401: ("OAU-213", "Token not found"),
    403: (
        "CMN-401",
        "In order to call this API endpoint, application needs to have permission",
    ),
    404: ("CMN-120", "Invalid URI"),
    429: ("CMN-301", "Request rate exceeded"),
    500: ("CMN-203", "Internal Server Error"),
    501: ("CMN-202", "Not supported"),
    503: ("CMN-201", "Service Temporarily Unavailable"),
}


@dataclass
class _Held(Generic[T]):
    item: T
    copies: int
    deliver: Deliver[T]
    timer: asyncio.TimerHandle


@dataclass
class HttpStatusFault:
    """Answer the next `count` requests under `path_prefix` with `status`."""

    status: int
    count: int
    path_prefix: str
    retry_after: int


@dataclass
class SlowHttpFault:
    """Delay the next `count` responses under `path_prefix` by `ms`."""

    ms: float
    count: int
    path_prefix: str


class Faults:
    """The active faults of one simulator."""

    def __init__(self, seed: int | None) -> None:
        # Separate from the floor's RNG: injecting faults must not change
        # which calls the floor generates.
        self._rng = random.Random(seed)
        self.drop_ratio = 0.0
        self.duplicate_ratio = 0.0
        self.reorder_ratio = 0.0
        self.delay_ms = 0.0
        self.http_status: HttpStatusFault | None = None
        self.slow_http: SlowHttpFault | None = None
        self._held: _Held[Any] | None = None

    @property
    def events_faulty(self) -> bool:
        """True if any event fault is active (the fast path skips them)."""
        return bool(
            self.drop_ratio or self.duplicate_ratio or self.reorder_ratio
        ) or bool(self.delay_ms)

    def clear(self) -> None:
        """Remove every fault; a held-back event is delivered now."""
        self.drop_ratio = self.duplicate_ratio = self.reorder_ratio = 0.0
        self.delay_ms = 0.0
        self.http_status = self.slow_http = None
        self._release()

    def describe(self) -> dict[str, Any]:
        """Active faults as JSON (GET/POST /_sim/faults)."""
        active: dict[str, Any] = {
            "drop_events": self.drop_ratio,
            "duplicate_events": self.duplicate_ratio,
            "reorder_events": self.reorder_ratio,
            "delay_events": self.delay_ms,
            "http_status": vars(self.http_status) if self.http_status else None,
            "slow_http": vars(self.slow_http) if self.slow_http else None,
        }
        return {name: value for name, value in active.items() if value}

    # -- events --------------------------------------------------------------

    def route(self, item: T, deliver: Deliver[T]) -> None:
        """Deliver `item` 0, 1 or 2 times, now or later, per the faults."""
        if not self.events_faulty:
            deliver(item, 1)
            return
        # Always three draws per event, so decisions stay reproducible.
        drop, duplicate, reorder = (self._rng.random() for _ in range(3))
        if drop < self.drop_ratio:
            return
        copies = 2 if duplicate < self.duplicate_ratio else 1
        hold = reorder < self.reorder_ratio
        if self.delay_ms:
            loop = asyncio.get_running_loop()
            loop.call_later(
                self.delay_ms / 1000, self._reorder, item, copies, hold, deliver
            )
        else:
            self._reorder(item, copies, hold, deliver)

    def _reorder(self, item: T, copies: int, hold: bool, deliver: Deliver[T]) -> None:
        held, self._held = self._held, None
        if held is not None:
            # The held event is overtaken by this one: swap them.
            held.timer.cancel()
            deliver(item, copies)
            held.deliver(held.item, held.copies)
            return
        if hold:
            timer = asyncio.get_running_loop().call_later(REORDER_WINDOW, self._release)
            self._held = _Held(item, copies, deliver, timer)
            return
        deliver(item, copies)

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.timer.cancel()
            held.deliver(held.item, held.copies)

    # -- HTTP ----------------------------------------------------------------

    def take_http_status(self, path: str) -> Response | None:
        """The injected error for this request, if one is due."""
        fault = self.http_status
        if fault is None or not path.startswith(fault.path_prefix):
            return None
        fault.count -= 1
        if fault.count <= 0:
            self.http_status = None
        return injected_error(fault.status, fault.retry_after, oauth=_is_oauth(path))

    def take_delay(self, path: str) -> float:
        """Seconds to hold this response back (0 for none)."""
        fault = self.slow_http
        if fault is None or not path.startswith(fault.path_prefix):
            return 0.0
        fault.count -= 1
        if fault.count <= 0:
            self.slow_http = None
        return fault.ms / 1000


def injected_error(status: int, retry_after: int, *, oauth: bool = False) -> Response:
    """A platform-shaped error response for an injected status."""
    default = ("CMN-101", "Bad request") if status < 500 else _STATUS_ERRORS[503]
    code, message = _STATUS_ERRORS.get(status, default)
    if oauth and status < 500 and status != 429:
        body = oauth_body("invalid_request", code, message)
    else:
        body = error_body(code, message)
    headers = {"Retry-After": str(retry_after)} if status in (429, 503) else {}
    return json_response(status, body, headers)


def _is_oauth(path: str) -> bool:
    return path.startswith("/restapi/oauth/")
