"""What a session's successive CallViews say about it, for call history.

A CallView (telephony.live.views) is the call as of one change. `CallTrack`
follows one session across changes and accumulates what a single change
cannot tell: hold time, each party's first status and answer time, flags
("voicemail", "transferred", "missed" were seen at some point) and every
recording id. `CallTrack.facts()` turns it into the `CallFacts` that
`services.call_history_apply` stores. Pure: no database, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telephony.history.services import CallFacts, PartyFacts
from telephony.live.views import CallView, PartyView, own_end
from telephony.ringcentral.events import (
    FINAL_STATUS_CODES,
    NON_FINAL_DISCONNECT_REASONS,
)

_ENGAGED = frozenset({"Answered", "Hold"})
_VOICEMAIL = frozenset({"Voicemail", "VoiceMailScreening"})


@dataclass(slots=True)
class _PartySeen:
    first_status: str
    first_seen_at: str
    answered_at: str | None = None
    ended_at: str | None = None
    muted_ever: bool = False


@dataclass(slots=True)
class CallTrack:
    """One session: its latest CallView and what successive changes tell."""

    call: CallView
    version: int = 0  # bumped by every change: is the written state current?
    ended: bool = False
    held_since: str | None = None
    hold_seconds: float = 0.0
    written_hold_seconds: float = 0.0
    written_holds: int = 0
    flags: set[str] = field(default_factory=set)
    recordings: dict[str, None] = field(default_factory=dict)
    parties: dict[str, _PartySeen] = field(default_factory=dict)

    def observe(self, call: CallView, *, ended: bool) -> None:
        self.call, self.ended = call, ended
        self.version += 1
        at, held = call["updated_at"], call["state"] == "held"
        if held:
            # Since the held leg went on hold (after a worker restart that is
            # the stored time, restored after the first sight of the call).
            holds = [p["since"] for p in call["parties"] if p["status"] == "Hold"]
            start = min([at, *holds])
            if self.held_since is None or start < self.held_since:
                self.held_since = start
        elif not held and self.held_since is not None:
            self.hold_seconds += max(0.0, _seconds(self.held_since, at))
            self.held_since = None
        if call["state"] == "voicemail":
            self.flags.add("voicemail")
        for party in call["parties"]:
            self._observe_party(party)

    def facts(self) -> CallFacts:
        """What to store now (hold figures: what was not written yet)."""
        return session_facts(self)

    def _observe_party(self, party: PartyView) -> None:
        status, reason, since = party["status"], party["reason"], party["since"]
        seen = self.parties.get(party["id"])
        if seen is None:
            seen = self.parties[party["id"]] = _PartySeen(status, since)
        if seen.answered_at is None and status in _ENGAGED:
            seen.answered_at = since
        if seen.ended_at is None and _finished(status, reason):
            seen.ended_at = since
        seen.muted_ever = seen.muted_ever or party["muted"]
        if status in _VOICEMAIL:
            self.flags.add("voicemail")
        if status == "Gone" or "transfer" in (reason or "").lower():
            self.flags.add("transferred")
        if party["missed_call"]:
            self.flags.add("missed")
        for recording in party["recordings"]:
            self.recordings[recording["id"]] = None


def session_facts(track: CallTrack) -> CallFacts:
    """The session as CallRecord/PartyRecord fields (see services)."""
    call = track.call
    by_id = {p["id"]: p for p in call["parties"]}
    agent = by_id.get(call["agent_party_id"] or "")
    customer = by_id.get(call["customer_party_id"] or "")
    holds = call["hold_count"] - track.written_holds
    if holds < 0:  # the model started counting again (a revived session)
        track.written_holds, holds = call["hold_count"], 0
    agent_id = (agent["extension_id"] if agent else None) or ""
    names = (
        e["name"]
        for p in call["parties"]
        for e in (p["from_"], p["to"])
        if agent_id and e["extension_id"] == agent_id and e["name"]
    )
    customer_end = own_end(customer) if customer else None
    queue = call["queue"]
    return CallFacts(
        telephony_session_id=call["id"],
        session_id=call["session_id"] or "",
        origin=call["origin"] or "",
        direction=call["direction"] or "",
        started_at=_dt(call["started_at"] or call["updated_at"]),
        answered_at=_dt(call["answered_at"]) if call["answered_at"] else None,
        last_seen_at=_dt(call["updated_at"]),
        ended=track.ended,
        result=_result(call, track.flags),
        final_reason=next(
            (
                p["reason"][:64]
                for p in (agent, customer, *call["parties"])
                if p and p["reason"]
            ),
            "",
        ),
        agent_extension_id=agent_id,
        agent_name=_text(next(names, "")),
        agent_number=_text(
            own_end(agent)["phone_number"] if agent_id and agent else ""
        ),
        customer_number=_text(customer_end and customer_end["phone_number"]),
        customer_name=_text(customer_end and customer_end["name"]),
        queue_extension_id=_text(queue and queue["extension_id"], 32),
        queue_name=_text(queue and queue["name"]),
        hold_seconds_added=track.hold_seconds - track.written_hold_seconds,
        holds_added=holds,
        recordings=list(track.recordings),
        extension_ids=sorted(
            {p["extension_id"] for p in call["parties"] if p["extension_id"]}
        ),
        parties=[_party_facts(p, track) for p in call["parties"]],
    )


def _party_facts(party: PartyView, track: CallTrack) -> PartyFacts:
    seen = track.parties[party["id"]]
    ended_at = seen.ended_at or (track.call["updated_at"] if track.ended else None)
    return PartyFacts(
        party_id=party["id"],
        extension_id=party["extension_id"] or "",
        direction=party["direction"] or "",
        from_number=_text(party["from_"]["phone_number"]),
        from_name=_text(party["from_"]["name"]),
        to_number=_text(party["to"]["phone_number"]),
        to_name=_text(party["to"]["name"]),
        first_status=seen.first_status,
        first_seen_at=_dt(seen.first_seen_at),
        status=party["status"],
        reason=_text(party["reason"], 64),
        answered_at=_dt(seen.answered_at) if seen.answered_at else None,
        ended_at=_dt(ended_at) if ended_at else None,
        muted_ever=seen.muted_ever,
        missed_call=bool(party["missed_call"]),
        queue_call=bool(party["queue_call"]),
    )


def _result(call: CallView, flags: set[str]) -> str:
    """How the call ended, for supervisors (docs/operations.md)."""
    if "transferred" in flags:
        return "transferred"
    if call["answered_at"]:
        return "answered"
    if "voicemail" in flags:
        return "voicemail"
    if call["direction"] == "Outbound":
        return "no_answer"
    # RingCentral flags the leg still ringing when the caller hangs up.
    return "abandoned" if "missed" in flags else "missed"


def _finished(status: str, reason: str | None) -> bool:
    if status == "Disconnected":
        return reason not in NON_FINAL_DISCONNECT_REASONS
    return status in FINAL_STATUS_CODES


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _seconds(start: str, end: str) -> float:
    return (_dt(end) - _dt(start)).total_seconds()


def _text(value: Any, limit: int = 200) -> str:
    return str(value)[:limit] if value else ""
