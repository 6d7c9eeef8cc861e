"""Presence of the account's users (docs/ringcentral.md 8.2 and 8.5).

What a person sets (`userStatus`, `dndStatus`: `Availability`, kept by the
engine) and what their phone does (`telephonyStatus`, from their live legs)
make one `PresenceState`. `PresenceBook` follows the engine's changes and
reports each change of an extension's presence as a `PresenceChange` with
the extension's next presence `sequence` (its own numbering, unrelated to
a telephony session's). REST reads (`current`) and notifications come from
the same computation, so they always agree.

Only users (agents) get notifications: a call queue's presence is always
`Offline` on the platform and never changes [inferred from the spec's note
on Department extensions].
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import NamedTuple

from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.model import (
    ENDED,
    Availability,
    Party,
    PartyChange,
    Session,
)

USER_STATUSES = ("Available", "Busy", "Offline")
DND_STATUSES = (
    "TakeAllCalls",
    "DoNotAcceptAnyCalls",
    "DoNotAcceptDepartmentCalls",
    "TakeDepartmentCallsOnly",
)
# docs/ringcentral.md 8.5: a notification lists the latest seven calls.
MAX_EVENT_CALLS = 7

# Party status -> presence telephonyStatus; the platform aggregates an
# extension's calls with the most urgent one first [inferred order].
_STATUS = {
    "Setup": "Ringing",
    "Proceeding": "Ringing",
    "Answered": "CallConnected",
    "Hold": "OnHold",
    "Parked": "ParkedCall",
}
_URGENCY = ("Ringing", "CallConnected", "OnHold", "ParkedCall")


class ActiveCall(NamedTuple):
    """One `activeCalls[]` item: an extension's own leg of one call.

    Named tuples here and in `PresenceState`: built and compared on every
    agent's leg change, they cost a fraction of a frozen dataclass."""

    session_id: str
    legacy_id: str
    party_id: str
    direction: str
    from_number: str
    from_name: str | None
    to_number: str
    to_name: str | None
    started_at: datetime
    status: str
    queue_call: bool
    # Only in the notification sent as the leg ends (`NoCall`, `final`).
    ended: bool = False


class PresenceState(NamedTuple):
    """An extension's presence; `calls` are its live legs, oldest first."""

    telephony_status: str
    presence_status: str
    user_status: str
    dnd_status: str
    calls: tuple[ActiveCall, ...] = ()

    def summary(self) -> tuple[str, ...]:
        """What the simple (not detailed) presence shows."""
        return self[:4]


class PresenceChange(NamedTuple):
    """One presence notification's worth: an extension's new presence.

    `simple` is False when only the detailed view (`activeCalls`) changed:
    subscribers to the simple filters do not hear of it. `ended` lists the
    legs that ended with this change (shown once, as `NoCall`/`final`).
    """

    extension_id: str
    sequence: int
    state: PresenceState
    simple: bool
    event_time: datetime
    ended: tuple[ActiveCall, ...] = ()


def telephony_status(party_status: str) -> str:
    """Presence telephonyStatus of one live leg."""
    return _STATUS.get(party_status, "CallConnected")


def presence_status(telephony: str, availability: Availability) -> str:
    """The aggregated `presenceStatus` [inferred]: Offline when the user
    set Offline; Busy on a call, when set Busy or on Do Not Disturb."""
    if availability.user_status == "Offline":
        return "Offline"
    if (
        telephony != "NoCall"
        or availability.user_status == "Busy"
        or availability.dnd_status == "DoNotAcceptAnyCalls"
    ):
        return "Busy"
    return "Available"


def active_call(session: Session, party: Party, *, ended: bool = False) -> ActiveCall:
    """The `activeCalls` item of one leg."""
    return ActiveCall(
        session_id=session.id,
        legacy_id=session.legacy_id,
        party_id=party.id,
        direction=party.direction,
        from_number=party.from_.phone_number,
        from_name=party.from_.name,
        to_number=party.to.phone_number,
        to_name=party.to.name,
        started_at=session.created_at,
        status="NoCall" if ended else telephony_status(party.status),
        queue_call=party.queue_call,
        ended=ended,
    )


class PresenceBook:
    """Every extension's presence, and its changes for the users in
    `tracked` (reported to `sink` right after the telephony event that
    caused them, or at once for an availability change)."""

    def __init__(
        self,
        engine: CallEngine,
        *,
        tracked: Iterable[str],
        now: Callable[[], datetime],
        sink: Callable[[PresenceChange], None] | None = None,
    ) -> None:
        self._engine = engine
        self._now = now
        self._sink = sink
        self._tracked = frozenset(tracked)
        self._last: dict[str, PresenceState] = {}
        self._sequence: dict[str, int] = {}
        self._listeners: list[Callable[[PresenceChange], None]] = []
        engine.add_listener(self._observe)

    def add_listener(self, listener: Callable[[PresenceChange], None]) -> None:
        """Also report every presence change to `listener`."""
        self._listeners.append(listener)

    def availability(self, extension_id: str) -> Availability:
        """What the user set (Available / TakeAllCalls unless changed)."""
        return self._engine.availability_of(extension_id)

    def current(self, extension_id: str) -> PresenceState:
        """The extension's presence now (what REST returns)."""
        ext = extension_id
        calls = [
            active_call(session, party)
            for session in self._engine.sessions_of(ext)
            for party in session.parties.values()
            if party.extension_id == ext and party.status not in ENDED
        ]
        calls.sort(key=_started)
        return self._state(ext, tuple(calls))

    def set_availability(
        self,
        extension_id: str,
        *,
        user_status: str | None = None,
        dnd_status: str | None = None,
    ) -> PresenceState:
        """A person changes their status; a notification if it changed."""
        old = self.availability(extension_id)
        new = Availability(user_status or old.user_status, dnd_status or old.dnd_status)
        if new.user_status not in USER_STATUSES:
            raise ValueError(f"userStatus {new.user_status!r}")
        if new.dnd_status not in DND_STATUSES:
            raise ValueError(f"dndStatus {new.dnd_status!r}")
        self._engine.availability[extension_id] = new
        state = self.current(extension_id)
        if extension_id in self._tracked:
            self._report(extension_id, state, ())
        return state

    def _state(self, ext: str, calls: tuple[ActiveCall, ...]) -> PresenceState:
        states = {c.status for c in calls}
        status = next((s for s in _URGENCY if s in states), "NoCall")
        availability = self.availability(ext)
        return PresenceState(
            telephony_status=status,
            presence_status=presence_status(status, availability),
            user_status=availability.user_status,
            dnd_status=availability.dnd_status,
            calls=calls,
        )

    def _observe(self, change: PartyChange) -> None:
        party = change.party
        ext = party.extension_id
        if ext is None or ext not in self._tracked:
            return
        before = self._last.get(ext)
        if before is None:
            self._report(ext, self.current(ext), ())
            return
        # One leg changed: update its line instead of recomputing them all.
        old: ActiveCall | None = None
        others: list[ActiveCall] = []
        for call in before.calls:
            if call.party_id == party.id:
                old = call
            else:
                others.append(call)
        if party.status in ENDED:
            if old is None:
                return  # a leg that never showed (a park slot, say)
            # Shown once more, as `NoCall` with terminationType `final`.
            ended = old._replace(status="NoCall", ended=True)
            self._report(ext, self._state(ext, tuple(others)), (ended,))
            return
        if old is not None and _same_line(old, party):
            return  # mute, recording, Setup -> Proceeding: presence as it was
        session = self._engine.sessions.get(change.session_id)
        if session is None:
            return
        line = active_call(session, party)
        others.append(line)
        calls = tuple(sorted(others, key=_started)) if len(others) > 1 else (line,)
        self._report(ext, self._state(ext, calls), ())

    def _report(
        self, extension_id: str, state: PresenceState, ended: tuple[ActiveCall, ...]
    ) -> None:
        before = self._last.get(extension_id) or _IDLE
        if state == before and not ended:
            return
        self._last[extension_id] = state
        sequence = self._sequence.get(extension_id, 0) + 1
        self._sequence[extension_id] = sequence
        change = PresenceChange(
            extension_id=extension_id,
            sequence=sequence,
            state=state,
            simple=state.summary() != before.summary(),
            event_time=self._now(),
            ended=ended,
        )
        if self._sink is not None:
            self._sink(change)
        for listener in self._listeners:
            listener(change)


def _started(call: ActiveCall) -> datetime:
    return call.started_at


def _same_line(line: ActiveCall, party: Party) -> bool:
    """True if the party's new snapshot shows as the same presence line."""
    return (
        line.status == telephony_status(party.status)
        and line.to_name == party.to.name
        and line.from_name == party.from_.name
        and line.to_number == party.to.phone_number
        and line.from_number == party.from_.phone_number
        and line.direction == party.direction
        and line.queue_call == party.queue_call
    )


_IDLE = PresenceState("NoCall", "Available", "Available", "TakeAllCalls")
