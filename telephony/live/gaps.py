"""Spot lost telephony events: holes in a session's sequence numbers.

RingCentral numbers each session's events 2, 3, 4, … across all its
parties (docs/ringcentral.md 6.3, every captured flow starts at 2). An
account-level subscriber sees every party, so a number that never arrives
means a lost event; one that arrives late (reordering) fills its hole.
Pure and in memory, owned by the worker.
"""

from __future__ import annotations

FIRST_SEQUENCE = 2


class SequenceWatch:
    """The highest sequence seen per session and the holes below it."""

    def __init__(self, first_sequence: int = FIRST_SEQUENCE) -> None:
        self.first_sequence = first_sequence
        self._top: dict[str, int] = {}
        self._holes: dict[str, set[int]] = {}

    def see(self, session_id: str, sequence: int, *, new_call: bool) -> bool:
        """Record one event; True when it opened a new hole.

        `new_call`: the session is not live in the model, so anything before
        this event (down to the first sequence) counts as missing.
        """
        top = self._top.get(session_id)
        if top is None and new_call:
            top = self.first_sequence - 1
        if top is not None and sequence <= top:
            if holes := self._holes.get(session_id):
                holes.discard(sequence)
            return False
        self._top[session_id] = sequence
        if top is None or sequence == top + 1:
            return False
        self._holes.setdefault(session_id, set()).update(range(top + 1, sequence))
        return True

    def has_holes(self, session_id: str) -> bool:
        return bool(self._holes.get(session_id))

    def clear_holes(self, session_id: str) -> None:
        """The session was re-read: whatever was missing is accounted for."""
        self._holes.pop(session_id, None)

    def forget(self, session_id: str) -> None:
        self._top.pop(session_id, None)
        self._holes.pop(session_id, None)

    def prune(self, live: set[str] | frozenset[str]) -> None:
        """Forget sessions that are not live (e.g. seen only as they ended),
        so a worker running for weeks does not grow."""
        for session_id in [s for s in self._top if s not in live]:
            self.forget(session_id)
