"""A pure timer wheel: actions due at times, earliest first.

One heap serves every scheduled step of every call, so thousands of calls
cost one asyncio task (the floor's runner) instead of one task each, and
tests can advance time by calling `due()` with any clock value.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

Action = Callable[[], None]


class Timeline:
    """Actions ordered by due time; ties keep insertion order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Action]] = []
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, at: float, action: Action) -> bool:
        """Add an action; True if it is now the earliest one."""
        heapq.heappush(self._heap, (at, next(self._counter), action))
        return self._heap[0][2] is action

    def next_at(self) -> float | None:
        """Due time of the earliest action, if any."""
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> list[Action]:
        """Remove and return every action due at or before `now`."""
        ready: list[Action] = []
        while self._heap and self._heap[0][0] <= now:
            ready.append(heapq.heappop(self._heap)[2])
        return ready

    def clear(self) -> None:
        """Drop every pending action."""
        self._heap.clear()
