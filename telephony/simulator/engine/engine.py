"""Pure telephony engine: call sessions, parties, sequence numbers.

The engine owns every live call and the basic rules (ring, answer, hold,
mute, hang up), reporting each change of one party as a `PartyChange` to
an injected sink and to listeners. No I/O, no clock of its own (both are
injected). Richer rules use its building blocks: `queues.py`,
`transfers.py` (transfer, bridge, park, voicemail) and `actions.py`.

Read API: `sessions` (id → `Session`), `get`, `sessions_of(extension_id)`,
`is_busy(extension_id)`, `availability_of(extension_id)`, `add_listener`.
Wire shapes live in `wire.py`; presence (what users set and what their
phones do) in `presence.py`.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from telephony.simulator.engine.index import ExtensionIndex
from telephony.simulator.engine.model import (
    AVAILABLE,
    BUSY,
    CONNECTED,
    RINGING,
    Availability,
    Clock,
    Direction,
    Endpoint,
    EngineError,
    HoldSource,
    MobilePickup,
    Party,
    PartyChange,
    Session,
    Sink,
)


class CallEngine:
    """All live sessions of the simulated account and their transitions."""

    def __init__(
        self, *, account_id: str, clock: Clock, rng: random.Random, sink: Sink
    ) -> None:
        self.account_id = account_id
        self.sessions: dict[str, Session] = {}
        self.rng = rng
        self._clock = clock
        self._sink = sink
        self._listeners: list[Sink] = []
        self._by_extension = ExtensionIndex()
        # Park orbit (*801…) -> (session id, party id) of the parked call.
        self.orbits: dict[str, tuple[str, str]] = {}
        # What users set (userStatus, dndStatus); absent = available.
        # Changed through presence.PresenceBook, which reports it.
        self.availability: dict[str, Availability] = {}

    # -- read API -------------------------------------------------------------

    def add_listener(self, listener: Sink) -> None:
        """Also report every change to `listener` (after the sink)."""
        self._listeners.append(listener)

    def get(self, session_id: str) -> Session:
        """Return a live session or raise EngineError("session")."""
        try:
            return self.sessions[session_id]
        except KeyError:
            raise EngineError(
                "session",
                "Resource for parameter [telephonySessionId] is not found",
            ) from None

    def sessions_of(self, extension_id: str) -> list[Session]:
        """Live sessions in which this extension has a live party."""
        ids = self._by_extension.session_ids(extension_id)
        return [self.sessions[i] for i in ids if i in self.sessions]

    def availability_of(self, extension_id: str) -> Availability:
        """What the user set (Available and TakeAllCalls by default)."""
        return self.availability.get(extension_id, AVAILABLE)

    def is_busy(self, extension_id: str) -> bool:
        """True while a leg of this extension rings, talks or holds."""
        return any(
            p.extension_id == extension_id and p.status in BUSY
            for session in self.sessions_of(extension_id)
            for p in session.parties.values()
        )

    # -- building blocks used by flows and rules ----------------------------

    def open_session(self, origin: str = "Call") -> Session:
        """Create an empty session with fresh ids (no event yet)."""
        hex_id = f"{self.rng.getrandbits(128):032x}"
        legacy = f"{self.rng.randrange(10**8, 10**9)}016"
        session = Session(f"s-{hex_id}", legacy, self._clock(), origin)
        self.sessions[session.id] = session
        return session

    def add_party(
        self,
        session: Session,
        *,
        direction: Direction,
        from_: Endpoint,
        to: Endpoint,
        extension_id: str | None = None,
        status: str = "Setup",
        **fields: Any,
    ) -> Party:
        """Add the next leg `p-<hex>-<n>` and emit its first event."""
        number = len(session.parties) + 1
        party = Party(
            id=f"p-{session.id[2:]}-{number}",
            account_id=self.account_id,
            extension_id=extension_id,
            direction=direction,
            from_=from_,
            to=to,
            status=status,
            **fields,
        )
        self._store(session, party)
        return party

    def change(self, session: Session, party_id: str, **fields: Any) -> Party:
        """Replace fields of a party and emit the new snapshot."""
        party = dataclasses.replace(session.party(party_id), **fields)
        self._store(session, party)
        return party

    def note(self, session: Session, party_id: str, **fields: Any) -> Party:
        """Replace fields nobody can see (hold/mute sources): no event."""
        party = dataclasses.replace(session.party(party_id), **fields)
        session.parties[party.id] = party
        return party

    def ringing_pickup(self, party: Party) -> MobilePickup:
        """mobilePickupData for a ringing user leg (docs/ringcentral.md 6.4)."""
        return self.pickup_for(party.extension_id or party.to.extension_id or "")

    def pickup_for(self, mailbox: str) -> MobilePickup:
        """mobilePickupData naming one mailbox (extension id)."""
        sid = str(self.rng.randrange(10**13, 10**14))
        return MobilePickup((mailbox,), sid)

    def new_id(self) -> str:
        """A fresh numeric id (recordings, park slots)."""
        return str(self.rng.randrange(10**9, 10**10))

    def end(self, session: Session, party_id: str, **fields: Any) -> Party:
        """Disconnect one leg (or set another final status) and emit it."""
        fields.setdefault("status", "Disconnected")
        return self.change(session, party_id, pickup=None, **fields)

    def close_if_empty(self, session: Session) -> None:
        """Forget a session once no party is left in it."""
        if not session.live_parties():
            self._forget(session)

    # -- actions with state rules (phone, REST and generator) ---------------

    def answer(self, session_id: str, party_id: str | None = None) -> Party:
        """The callee picks up; callers still in Proceeding connect too.

        For a queue call the other agents' legs stop ringing (reason
        `AgentAnswered` [inferred]) and the queue's own leg leaves.
        """
        session = self.get(session_id)
        target = self._answer_target(session, party_id)
        answered = self.change(session, target.id, status="Answered")
        if target.queue_call:
            for other in session.ringing_agents():
                self.end(session, other.id, reason="AgentAnswered")
            for leg in session.live_parties():
                if leg.kind == "queue":
                    self.end(session, leg.id)
        for other in session.live_parties():
            if other.id != target.id and other.status == "Proceeding":
                self.change(session, other.id, status="Answered")
        return answered

    def hold(self, session_id: str, party_id: str, source: HoldSource = "api") -> Party:
        """Hold a connected party from the API or from its phone.

        `Hold` is shown on the holder. A leg already held the other way
        stays in `Hold` and only records the second hold (no event).
        """
        session = self.get(session_id)
        party = session.party(party_id)
        flag = f"{source}_hold"
        if party.status not in CONNECTED or getattr(party, flag):
            raise EngineError("state", f"Cannot hold a party in status {party.status}")
        if party.status == "Hold":
            return self.note(session, party_id, **{flag: True})
        # Captures: mobilePickupData disappears from the leg once held.
        return self.change(
            session, party_id, status="Hold", pickup=None, **{flag: True}
        )

    def unhold(
        self, session_id: str, party_id: str, source: HoldSource = "api"
    ) -> Party:
        """Undo one hold; back to `Answered` only once both are undone."""
        session = self.get(session_id)
        party = session.party(party_id)
        flag = f"{source}_hold"
        if party.status != "Hold" or not getattr(party, flag):
            raise EngineError(
                "state", f"Cannot unhold a party in status {party.status}"
            )
        if party.api_hold and party.phone_hold:
            return self.note(session, party_id, **{flag: False})
        return self.change(session, party_id, status="Answered", **{flag: False})

    def set_muted(
        self,
        session_id: str,
        party_id: str,
        muted: bool,
        source: HoldSource = "api",
    ) -> Party:
        """Mute or unmute from the API or the phone; each must be undone.

        The wire's `muted` is true while either mute is on; no event when
        it does not change.
        """
        session = self.get(session_id)
        party = session.party(party_id)
        if party.status not in CONNECTED:
            raise EngineError(
                "state", f"Party in status {party.status} cannot be muted"
            )
        flags = {"api_mute": party.api_mute, "phone_mute": party.phone_mute}
        flags[f"{source}_mute"] = muted
        visible = flags["api_mute"] or flags["phone_mute"]
        if visible == party.muted:
            return self.note(session, party_id, **flags)
        return self.change(session, party_id, muted=visible, **flags)

    def hang_up(self, session_id: str, party_id: str | None = None) -> Party | None:
        """One party hangs up; every leg of the call ends.

        Order follows the captures: RingCentral users' legs are torn down
        first (the one hanging up leading), external legs last. Sessions
        joined by a bridge end with it.
        """
        session = self.get(session_id)
        live = session.live_parties()
        if not live:
            self._forget(session)
            return None
        leaving = session.party(party_id) if party_id else _first_user(live)
        ordered = sorted(
            live, key=lambda p: (p.extension_id is None, p.id != leaving.id)
        )
        result = leaving
        for party in ordered:
            # An inbound leg that still rings when the other side leaves
            # is a missed call; the leg hanging up itself is a rejection.
            missed = party.status in RINGING and party.direction == "Inbound"
            ended = self.end(
                session, party.id, missed_call=missed and party.id != leaving.id
            )
            result = ended if party.id == leaving.id else result
        self._forget(session)
        return result

    # -- internals ----------------------------------------------------------

    def _forget(self, session: Session) -> None:
        self.sessions.pop(session.id, None)
        for linked_id in session.linked:
            linked = self.sessions.get(linked_id)
            if linked is not None:
                linked.linked.discard(session.id)
                self.hang_up(linked_id)

    def _store(self, session: Session, party: Party) -> None:
        session.parties[party.id] = party
        session.last_sequence += 1
        self._by_extension.update(session, party)
        change = PartyChange(
            session_id=session.id,
            legacy_id=session.legacy_id,
            origin=session.origin,
            sequence=session.last_sequence,
            event_time=self._clock(),
            party=party,
        )
        self._sink(change)
        for listener in self._listeners:
            listener(change)

    def _answer_target(self, session: Session, party_id: str | None) -> Party:
        if party_id is not None:
            party = session.party(party_id)
        else:
            ringing = [
                p
                for p in session.live_parties()
                # A queue's own leg is never the one that picks up.
                if p.status in RINGING
                and p.direction == "Inbound"
                and p.kind != "queue"
            ]
            if not ringing:
                raise EngineError("state", "No ringing party to answer")
            party = ringing[0]
        if party.status not in RINGING or party.kind == "queue":
            raise EngineError("state", f"Party in status {party.status} cannot answer")
        return party


def _first_user(live: list[Party]) -> Party:
    users = [p for p in live if p.extension_id is not None]
    return (users or live)[0]
