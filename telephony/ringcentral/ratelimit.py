"""Client-side view of RingCentral's per-group rate limits.

RingCentral counts requests per user, app and group over a sliding window
(Light 50, Medium 40, Heavy 10, Auth 5 per 60 s) and answers 429 with a
penalty during which EVERY further request in the group restarts the
penalty (docs/ringcentral.md 3.2, section 10 item 10). So the worker keeps its own
count, never sends into an active penalty, and leaves a reserve in the Light
group for supervisors' commands: background work (resync, ghost checks)
waits for budget instead of spending it.
Reference: https://developers.ringcentral.com/guide/basics/rate-limits
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable

from telephony.ringcentral.exceptions import TelephonyRejected

DEFAULT_LIMITS: dict[str, int] = {"Light": 50, "Medium": 40, "Heavy": 10, "Auth": 5}
WINDOW = 60.0
# Requests of the Light group kept free for supervisors' commands.
COMMAND_RESERVE = 10
# When RingCentral sends 429 without Retry-After, wait at least this long.
DEFAULT_PENALTY = 60.0

_HEAVY = re.compile(r"/(telephony/call-out|telephony/conference|active-calls)$")
_ACCOUNT_PRESENCE = re.compile(r"^/restapi/v1\.0/account/[^/]+/presence$")
# GET lists in the Medium group: extensions and call queues (not a queue's
# members, which are Light).
_MEDIUM_LISTS = re.compile(r"^/restapi/v1\.0/account/[^/]+/(extension|call-queues)$")


def group_of(method: str, path: str) -> str:
    """The throttling group of an endpoint (x-throttling-group in the spec)."""
    path = path.split("?", 1)[0].rstrip("/")
    if path.startswith("/restapi/oauth/"):
        return "Auth"
    if _HEAVY.search(path) or _ACCOUNT_PRESENCE.match(path):
        return "Heavy"
    if (method == "GET" and _MEDIUM_LISTS.match(path)) or (
        method in ("POST", "PUT", "DELETE") and "/subscription" in path
    ):
        return "Medium"
    return "Light"


class RateGate:
    """Sliding-window budget and 429 penalties per group."""

    def __init__(
        self,
        limits: dict[str, int] | None = None,
        *,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self.window = window
        self.clock = clock
        self._sent: dict[str, deque[float]] = {g: deque() for g in self.limits}
        self._penalty_until: dict[str, float] = {}

    def penalty_left(self, group: str) -> float:
        return max(0.0, self._penalty_until.get(group, 0.0) - self.clock())

    def _budget_wait(self, group: str, reserve: int) -> float:
        """Seconds until a request fits in the window (0: now)."""
        limit = self.limits.get(group)
        if limit is None:
            return 0.0
        sent, now = self._sent[group], self.clock()
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        if len(sent) < max(1, limit - reserve):
            return 0.0
        index = len(sent) - max(1, limit - reserve)
        return sent[index] + self.window - now

    def take(self, group: str) -> None:
        """Spend budget now, or raise a local 429 saying when to retry."""
        wait = max(self.penalty_left(group), self._budget_wait(group, 0))
        if wait > 0:
            raise rate_limited(group, wait)
        self._note(group)

    async def take_background(self, group: str) -> None:
        """Wait for budget, leaving the command reserve untouched."""
        reserve = COMMAND_RESERVE if group == "Light" else 0
        while True:
            wait = max(self.penalty_left(group), self._budget_wait(group, reserve))
            if wait <= 0:
                self._note(group)
                return
            await asyncio.sleep(wait)

    def _note(self, group: str) -> None:
        if group in self._sent:
            self._sent[group].append(self.clock())

    def penalize(self, group: str, retry_after: float | None) -> None:
        """RingCentral answered 429: stay out of the group until it ends."""
        seconds = retry_after if retry_after is not None else DEFAULT_PENALTY
        self._penalty_until[group] = self.clock() + seconds


def rate_limited(group: str, wait: float) -> TelephonyRejected:
    return TelephonyRejected(
        status=429,
        error_code="CMN-301",
        message=f"Request rate exceeded for the {group} group (held back locally)",
        retry_after=round(wait, 1),
    )
