"""Per-user rate limits by throttling group (docs/ringcentral.md 3.2).

Every request of a (user/app) key counts against its group over a sliding
window. One request too many opens a penalty: the request and every further
one in that group get 429 `CMN-301` with `Retry-After`, and each of them
restarts the penalty (the platform's "429 trap"). Pure, clock injected.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.simulator.rest.errors import ApiError, api_error

GROUPS = ("Light", "Medium", "Heavy", "Auth")


@dataclass(frozen=True)
class RateLimits:
    """Per-user limits of each throttling group (docs/ringcentral.md 3.2).

    Defaults are the platform's: requests per `window` seconds, and a
    `penalty` during which every request of the group gets 429 and restarts
    the penalty (the "429 trap").
    """

    light: int = 50
    medium: int = 40
    heavy: int = 10
    auth: int = 5
    window: float = 60.0
    penalty: float = 60.0

    def limit(self, group: str) -> int:
        """Limit of a group by its wire name (Light, Medium, Heavy, Auth)."""
        return int(getattr(self, group.lower()))


@dataclass(frozen=True)
class Verdict:
    """Outcome of counting one request: headers, and the 429 if refused."""

    headers: dict[str, str]
    refusal: ApiError | None = None


@dataclass
class _Bucket:
    hits: deque[float] = field(default_factory=deque)
    penalty_until: float = 0.0


class RateLimiter:
    """Counts requests per (key, group); refuses them when `enforce`."""

    def __init__(
        self, limits: RateLimits | None, *, clock: Callable[[], float]
    ) -> None:
        # None: report the platform's defaults, never refuse.
        self.enforce = limits is not None
        self._limits = limits or RateLimits()
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def hit(self, key: str, group: str) -> Verdict:
        """Count one request of `key` in `group`."""
        bucket = self._buckets.setdefault((key, group), _Bucket())
        now = self._clock()
        limit = self._limits.limit(group)
        if self.enforce and now < bucket.penalty_until:
            return self._refuse(bucket, group, now)
        if bucket.penalty_until:
            # The penalty is over: the group starts from a clean window.
            bucket.penalty_until = 0.0
            bucket.hits.clear()
        self._expire(bucket, now)
        if self.enforce and len(bucket.hits) >= limit:
            return self._refuse(bucket, group, now)
        bucket.hits.append(now)
        return Verdict(self._headers(group, max(0, limit - len(bucket.hits))))

    def _refuse(self, bucket: _Bucket, group: str, now: float) -> Verdict:
        bucket.penalty_until = now + self._limits.penalty
        headers = self._headers(group, 0)
        headers["Retry-After"] = str(math.ceil(self._limits.penalty))
        return Verdict(headers, api_error(429, "CMN-301", "Request rate exceeded"))

    def _expire(self, bucket: _Bucket, now: float) -> None:
        horizon = now - self._limits.window
        while bucket.hits and bucket.hits[0] <= horizon:
            bucket.hits.popleft()

    def _headers(self, group: str, remaining: int) -> dict[str, str]:
        return {
            "X-Rate-Limit-Group": group,
            "X-Rate-Limit-Limit": str(self._limits.limit(group)),
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Window": str(math.ceil(self._limits.window)),
        }
