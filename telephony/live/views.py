"""The typed views of a live call that every room passes around.

The live model builds them (`telephony.live.model`); commands read them to
find a party and to recognise the event that confirms an action; the call
history derives its facts from them; the channel layer carries them to each
dashboard process, which turns them into the browser's compact wire form
(`dashboard.protocol`). Plain JSON-ready dicts: str, int, bool, None, lists
and dicts, times as ISO-8601 UTC text with milliseconds and a Z (they sort
as text), so they cross msgpack (Redis) and JSON unchanged.
"""

from __future__ import annotations

from typing import Literal, TypedDict

CallState = Literal[
    "ringing", "talking", "held", "setup", "parked", "voicemail", "ended"
]
Direction = Literal["Inbound", "Outbound"]
# What a leg is to the supervisor: the user the call is about (its buttons
# act on this leg), the other side, a call queue's own leg, a supervisor
# listening in (never a button's target), or anything else (a colleague's
# leg ringing in parallel, a conference host, ...).
Role = Literal["agent", "customer", "queue", "monitor", "other"]


class EndpointView(TypedDict):
    """One end of a party's leg, as RingCentral names it."""

    phone_number: str | None
    name: str | None
    extension_id: str | None
    device_id: str | None


class RecordingView(TypedDict):
    id: str
    active: bool  # false while paused


class PartyView(TypedDict):
    """One party (leg) of a call: its latest status and what events told.

    `direction` is the leg's technical direction (docs/ringcentral.md 6.6);
    `since` is when its status code last changed; `sequence` the session
    sequence of the last event applied to it.
    """

    id: str
    account_id: str | None
    extension_id: str | None
    direction: Direction | None
    status: str
    reason: str | None
    since: str
    from_: EndpointView
    to: EndpointView
    muted: bool
    stand_alone: bool
    missed_call: bool
    queue_call: bool
    park_id: str | None
    recordings: list[RecordingView]
    sequence: int
    role: Role


class QueueRef(TypedDict):
    """The call queue a call came through (either field may be unknown)."""

    extension_id: str | None
    name: str | None


class CallView(TypedDict):
    """One telephony session as supervisors see it.

    `agent_party_id` is the RingCentral user's live leg (the one buttons act
    on), `customer_party_id` the other side; `direction` is the call's
    direction from the company's point of view ("Internal" when both sides
    are users); `answered_at` is when the agent's leg was first engaged.
    """

    id: str
    session_id: str | None
    origin: str | None
    sequence: int
    started_at: str
    updated_at: str
    state: CallState
    direction: str | None
    agent_party_id: str | None
    customer_party_id: str | None
    answered_at: str | None
    hold_count: int
    queue: QueueRef | None
    parties: list[PartyView]


Availability = Literal["available", "away", "dnd", "offline"]


class AgentView(TypedDict):
    """One agent's presence as the floor shows it."""

    extension_id: str
    availability: Availability
    since: str  # when `availability` last changed (ISO UTC, Z)
    user_status: str | None
    dnd_status: str | None
    presence_status: str | None
    telephony_status: str | None


def party_of(call: CallView | None, party_id: str | None) -> PartyView | None:
    """The party `party_id` of `call`, or None."""
    if call is None or party_id is None:
        return None
    return next((p for p in call["parties"] if p["id"] == party_id), None)


def own_end(party: PartyView) -> EndpointView:
    """The endpoint that is the party itself: `from` of a leg that calls
    out (Outbound), `to` of a leg being called (Inbound)."""
    return party["from_"] if party["direction"] == "Outbound" else party["to"]
