"""The engine's data: call sessions, immutable party snapshots, changes.

Pure dataclasses (slotted, so 5,000 live calls stay small). The engine in
`engine.py` and the rule modules (`queues.py`, `transfers.py`,
`actions.py`) change them; `wire.py` renders them as RingCentral JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Direction = Literal["Inbound", "Outbound"]
ErrorKind = Literal["session", "party", "state", "recording"]
HoldSource = Literal["api", "phone"]
# What a leg is for, beyond what RingCentral shows: the engine's rules
# differ for a queue's own leg, a supervisor's listening leg, a park slot.
PartyKind = Literal["call", "queue", "supervisor", "park", "flip"]

RINGING = frozenset({"Setup", "Proceeding"})
CONNECTED = frozenset({"Answered", "Hold"})
ENDED = frozenset({"Disconnected", "Gone"})
# Statuses in which the extension's phone is in use (presence "busy").
BUSY = RINGING | CONNECTED


class EngineError(Exception):
    """A request the engine refuses: unknown session/party or wrong state."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of a leg as RingCentral shows it in `from`/`to`."""

    phone_number: str
    name: str | None = None
    extension_id: str | None = None
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class MobilePickup:
    """`status.mobilePickupData`, present while a user's leg rings."""

    mailboxes: tuple[str, ...]
    sid: str


@dataclass(frozen=True, slots=True)
class Peer:
    """`status.peerId`: the linked party in another session (`Gone`)."""

    session_id: str
    party_id: str
    legacy_id: str


@dataclass(frozen=True, slots=True)
class Recording:
    """One entry of `recordings[]`; `active=False` while paused."""

    id: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class UiCallInfo:
    """`uiCallInfo` of a queue agent leg: queue name and caller id name."""

    queue_name: str
    caller_name: str


@dataclass(frozen=True, slots=True)
class Availability:
    """What a user set: `userStatus` and `dndStatus` (docs/ringcentral.md 8.5).

    `userStatus` is Available, Busy (away from the desk) or Offline;
    `dndStatus` decides which calls reach the user at all: Do Not Disturb
    sends direct calls to voicemail, and call queues skip members who do
    not take queue calls.
    """

    user_status: str = "Available"
    dnd_status: str = "TakeAllCalls"

    @property
    def takes_direct_calls(self) -> bool:
        """A direct call rings this user (else it goes to voicemail)."""
        return self.dnd_status in ("TakeAllCalls", "DoNotAcceptDepartmentCalls")

    @property
    def takes_queue_calls(self) -> bool:
        """A call queue rings this member (at the desk, not on DND)."""
        return self.at_desk and self.dnd_status in (
            "TakeAllCalls",
            "TakeDepartmentCallsOnly",
        )

    @property
    def at_desk(self) -> bool:
        """The person is there: answers a ringing phone, places calls."""
        return self.user_status == "Available"

    @property
    def available(self) -> bool:
        """Fully available: at the desk and taking every call."""
        return self.at_desk and self.dnd_status == "TakeAllCalls"


AVAILABLE = Availability()


@dataclass(frozen=True, slots=True)
class Party:
    """Immutable snapshot of one leg; the engine replaces it on change.

    Being immutable, a snapshot can travel inside a `PartyChange` to any
    number of subscribers without copying. `api_hold`/`phone_hold` and
    `api_mute`/`phone_mute` are the simulator's ground truth: the platform
    keeps API and phone holds (and mutes) apart, so a leg held both ways
    stays in `Hold` until both are undone; `status`/`muted` are what the
    wire shows.
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
    peer: Peer | None = None
    park_id: str | None = None
    park_data: str | None = None
    recordings: tuple[Recording, ...] = ()
    queue_call: bool = False
    ui_call_info: UiCallInfo | None = None
    conference_role: str | None = None
    kind: PartyKind = "call"
    api_hold: bool = False
    phone_hold: bool = False
    api_mute: bool = False
    phone_mute: bool = False


@dataclass(slots=True)
class Session:
    """One telephony session (`s-…`) and its parties in creation order."""

    id: str
    legacy_id: str
    created_at: datetime
    origin: str = "Call"
    parties: dict[str, Party] = field(default_factory=dict)
    # docs/ringcentral.md 6.3: the first event of a session carries sequence 2.
    last_sequence: int = 1
    # Sessions joined to this one by a bridge: they end together.
    linked: set[str] = field(default_factory=set)
    voice_call_token: str | None = None
    # Extension id of the call queue this call came through, if any.
    queue_id: str | None = None

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

    def ringing_agents(self) -> list[Party]:
        """Inbound user legs still ringing (queue agents, direct callee)."""
        return [
            p
            for p in self.parties.values()
            if p.status in RINGING
            and p.direction == "Inbound"
            and p.extension_id is not None
            and p.kind == "call"
        ]


@dataclass(frozen=True, slots=True)
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
