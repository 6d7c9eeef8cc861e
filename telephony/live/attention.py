"""Who else is on a call: the supervisors looking at it and the commands
they have under way, so two supervisors never act on one call unaware of
each other.

Pure and in memory, owned by the worker (the one place every dashboard
process reports to). A console says which call its supervisor has open
(and says it again while it stays open); an entry not renewed within
`VIEW_TTL` seconds is dropped, so a console that vanished without saying
goodbye does not haunt the call. Pending commands come from the worker's
command desk, from request to confirmation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict

# A console re-reports the call it has open every 30 s; twice that and a bit
# without news and the supervisor is taken to have left it.
VIEW_TTL = 75.0


class Pending(TypedDict):
    user: str
    action: str


class AttentionView(TypedDict):
    """The supervisors on one call."""

    session_id: str
    viewers: list[str]
    pending: list[Pending]


@dataclass(slots=True)
class _Call:
    viewers: dict[str, dict[str, float]] = field(
        default_factory=dict
    )  # user -> console -> at
    pending: dict[str, Pending] = field(default_factory=dict)  # request id -> pending


class AttentionBoard:
    """Viewers and pending commands per call."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._calls: dict[str, _Call] = {}
        self._open: dict[str, str] = {}  # console -> the call it has open

    def view(
        self, *, console: str, user: str, session_id: str | None
    ) -> list[AttentionView]:
        """A console has `session_id` open (None: nothing); what changed."""
        changed = []
        before = self._open.pop(console, None)
        if before is not None and before != session_id:
            call = self._calls.get(before)
            if call is not None and _drop_console(call, console):
                changed.append(self._view(before))
        if session_id is not None:
            call = self._calls.setdefault(session_id, _Call())
            known = user in call.viewers
            call.viewers.setdefault(user, {})[console] = self.clock()
            self._open[console] = session_id
            if not known:
                changed.append(self._view(session_id))
        return changed

    def command(
        self, *, request_id: str, session_id: str, user: str, action: str
    ) -> AttentionView:
        call = self._calls.setdefault(session_id, _Call())
        call.pending[request_id] = {"user": user, "action": action}
        return self._view(session_id)

    def settled(self, *, request_id: str, session_id: str) -> AttentionView | None:
        call = self._calls.get(session_id)
        if call is None or call.pending.pop(request_id, None) is None:
            return None
        return self._view(session_id)

    def expire(self) -> list[AttentionView]:
        """Drop viewers not renewed within VIEW_TTL; what changed."""
        cutoff = self.clock() - VIEW_TTL
        changed = []
        for session_id, call in list(self._calls.items()):
            stale = [
                console
                for consoles in call.viewers.values()
                for console, at in consoles.items()
                if at < cutoff
            ]
            if any([_drop_console(call, c) for c in stale]):
                changed.append(self._view(session_id))
            for console in stale:
                self._open.pop(console, None)
        return changed

    def ended(self, session_id: str) -> None:
        """The call is over: forget who was on it (nobody is told)."""
        call = self._calls.pop(session_id, None)
        for consoles in call.viewers.values() if call else ():
            for console in consoles:
                self._open.pop(console, None)

    def snapshot(self) -> list[AttentionView]:
        return [self._view(s) for s in self._calls]

    def _view(self, session_id: str) -> AttentionView:
        call = self._calls.get(session_id) or _Call()
        if not call.viewers and not call.pending:
            self._calls.pop(session_id, None)
        return {
            "session_id": session_id,
            "viewers": sorted(call.viewers),
            "pending": list(call.pending.values()),
        }


def _drop_console(call: _Call, console: str) -> bool:
    """Forget one console; True when its user is no longer viewing."""
    for user, consoles in list(call.viewers.items()):
        if consoles.pop(console, None) is not None and not consoles:
            del call.viewers[user]
            return True
    return False
