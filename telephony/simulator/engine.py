"""Pure telephony engine: call sessions, parties, sequence numbers.

The engine owns the state of every live call and the rules for changing it,
and reports each change of one party as a `PartyChange` to an injected sink.
It does no I/O and reads no clock of its own (both are injected), so the
floor generator, the REST handlers and the tests drive the same code, and a
later scale-up (thousands of calls, queues, transfers) only adds rules here.

Wire shapes live in `wire.py`; the engine speaks dataclasses only.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Direction = Literal["Inbound", "Outbound"]
ErrorKind = Literal["session", "party", "state"]

RINGING = frozenset({"Setup", "Proceeding"})
CONNECTED = frozenset({"Answered", "Hold"})
ENDED = frozenset({"Disconnected", "Gone"})


class EngineError(Exception):
    """A request the engine refuses: unknown session/party or wrong state."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Endpoint:
    """One side of a leg as RingCentral shows it in `from`/`to`."""

    phone_number: str
    name: str | None = None
    extension_id: str | None = None
    device_id: str | None = None


@dataclass(frozen=True)
class MobilePickup:
    """`status.mobilePickupData`, present while a user's leg rings."""

    mailboxes: tuple[str, ...]
    sid: str


@dataclass(frozen=True)
class Party:
    """Immutable snapshot of one leg; the engine replaces it on change.

    Being immutable, a snapshot can travel inside a `PartyChange` to any
    number of subscribers without copying.
    """

    id: str
    account_id: str
    extension_id: str | None
    direction: Direction
    from_: Endpoint
    to: Endpoint
    status: str = "Setup"
    reason: str | None = None
    muted: bool = False
    stand_alone: bool = False
    missed_call: bool = False
    pickup: MobilePickup | None = None


@dataclass
class Session:
    """One telephony session (`s-…`) and its parties in creation order."""

    id: str
    legacy_id: str
    created_at: datetime
    origin: str = "Call"
    parties: dict[str, Party] = field(default_factory=dict)
    # PROTOCOL.md 6.3: the first event of a session carries sequence 2.
    last_sequence: int = 1

    def party(self, party_id: str) -> Party:
        """Return the party or raise EngineError("party")."""
        try:
            return self.parties[party_id]
        except KeyError:
            raise EngineError(
                "party", f"Resource for parameter [partyId] is not found: {party_id}"
            ) from None

    def live_parties(self) -> list[Party]:
        """Parties that have not left the session."""
        return [p for p in self.parties.values() if p.status not in ENDED]


@dataclass(frozen=True)
class PartyChange:
    """One telephony event: one party of one session changed."""

    session_id: str
    legacy_id: str
    origin: str
    sequence: int
    event_time: datetime
    party: Party


Sink = Callable[[PartyChange], None]
Clock = Callable[[], datetime]


class CallEngine:
    """All live sessions of the simulated account and their transitions."""

    def __init__(
        self, *, account_id: str, clock: Clock, rng: random.Random, sink: Sink
    ) -> None:
        self.account_id = account_id
        self.sessions: dict[str, Session] = {}
        self._clock = clock
        self._rng = rng
        self._sink = sink

    # -- building blocks used by flows -------------------------------------

    def open_session(self, origin: str = "Call") -> Session:
        """Create an empty session with fresh ids (no event yet)."""
        hex_id = f"{self._rng.getrandbits(128):032x}"
        legacy = f"{self._rng.randrange(10**8, 10**9)}016"
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
        )
        self._store(session, party)
        return party

    def change(self, session: Session, party_id: str, **fields: object) -> Party:
        """Replace fields of a party and emit the new snapshot."""
        party = dataclasses.replace(session.party(party_id), **fields)  # type: ignore[arg-type]
        self._store(session, party)
        return party

    def ringing_pickup(self, party: Party) -> MobilePickup:
        """mobilePickupData for a ringing user leg (PROTOCOL.md 6.4)."""
        mailbox = party.extension_id or party.to.extension_id or ""
        sid = str(self._rng.randrange(10**13, 10**14))
        return MobilePickup((mailbox,), sid)

    # -- actions with state rules (phone, REST and generator) ---------------

    def get(self, session_id: str) -> Session:
        """Return a live session or raise EngineError("session")."""
        try:
            return self.sessions[session_id]
        except KeyError:
            raise EngineError(
                "session",
                "Resource for parameter [telephonySessionId] is not found",
            ) from None

    def answer(self, session_id: str, party_id: str | None = None) -> Party:
        """The callee picks up; callers still in Proceeding connect too."""
        session = self.get(session_id)
        target = self._answer_target(session, party_id)
        answered = self.change(session, target.id, status="Answered")
        for other in session.live_parties():
            if other.id != target.id and other.status == "Proceeding":
                self.change(session, other.id, status="Answered")
        return answered

    def hold(self, session_id: str, party_id: str) -> Party:
        """Put an answered party on hold (`Hold` is on the holder)."""
        session = self.get(session_id)
        self._require(session.party(party_id), "Answered", "hold")
        # Captures: mobilePickupData disappears from the leg once held.
        return self.change(session, party_id, status="Hold", pickup=None)

    def unhold(self, session_id: str, party_id: str) -> Party:
        """Take a held party back to `Answered`."""
        session = self.get(session_id)
        self._require(session.party(party_id), "Hold", "unhold")
        return self.change(session, party_id, status="Answered")

    def set_muted(self, session_id: str, party_id: str, muted: bool) -> Party:
        """Mute or unmute a connected party; no event when nothing changes."""
        session = self.get(session_id)
        party = session.party(party_id)
        if party.status not in CONNECTED:
            raise EngineError(
                "state", f"Party in status {party.status} cannot be muted"
            )
        if party.muted == muted:
            return party
        return self.change(session, party_id, muted=muted)

    def hang_up(self, session_id: str, party_id: str | None = None) -> Party:
        """One party hangs up; every leg of the two-party call ends.

        Order follows the captures: RingCentral users' legs are torn down
        first (the one hanging up leading), external legs last.
        """
        session = self.get(session_id)
        leaving = session.party(party_id) if party_id else self._first_user(session)
        ordered = sorted(
            session.live_parties(),
            key=lambda p: (p.extension_id is None, p.id != leaving.id),
        )
        result = leaving
        for party in ordered:
            # An inbound leg that still rings when the other side leaves
            # is a missed call; the leg hanging up itself is a rejection.
            missed = party.status in RINGING and party.direction == "Inbound"
            ended = self.change(
                session,
                party.id,
                status="Disconnected",
                pickup=None,
                missed_call=missed and party.id != leaving.id,
            )
            result = ended if party.id == leaving.id else result
        del self.sessions[session.id]
        return result

    # -- internals ----------------------------------------------------------

    def _store(self, session: Session, party: Party) -> None:
        session.parties[party.id] = party
        session.last_sequence += 1
        change = PartyChange(
            session_id=session.id,
            legacy_id=session.legacy_id,
            origin=session.origin,
            sequence=session.last_sequence,
            event_time=self._clock(),
            party=party,
        )
        self._sink(change)

    def _answer_target(self, session: Session, party_id: str | None) -> Party:
        if party_id is not None:
            party = session.party(party_id)
        else:
            ringing = [
                p
                for p in session.live_parties()
                if p.status in RINGING and p.direction == "Inbound"
            ]
            if not ringing:
                raise EngineError("state", "No ringing party to answer")
            party = ringing[0]
        if party.status not in RINGING:
            raise EngineError("state", f"Party in status {party.status} cannot answer")
        return party

    @staticmethod
    def _first_user(session: Session) -> Party:
        live = session.live_parties()
        users = [p for p in live if p.extension_id is not None]
        return (users or live)[0]

    @staticmethod
    def _require(party: Party, status: str, action: str) -> None:
        if party.status != status:
            raise EngineError(
                "state", f"Cannot {action} a party in status {party.status}"
            )
