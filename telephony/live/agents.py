"""Agents' presence: who can take a call now, and since when.

Pure and in memory, owned by the worker beside the live model. Fed by the
account presence notifications of the worker's subscription (`apply`,
docs/ringcentral.md 8.5) and by the REST presence read at every resync
(`load_record`, 8.2). Whether an agent is on a call comes from the calls
themselves (telephony session events are the truth, presence is a busy
lamp); this board says what the person has set: available, away (status
Busy set by hand), do not disturb, or offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telephony.live.views import AgentView, Availability
from telephony.ringcentral.events import PresenceEvent

# dndStatus values that keep calls from the agent (queue calls at least).
_DND = frozenset({"DoNotAcceptAnyCalls", "DoNotAcceptDepartmentCalls"})


def availability(
    *, user: str | None, dnd: str | None, presence: str | None
) -> Availability:
    """What the person set, in the supervisor's words."""
    if presence == "Offline" or user == "Offline":
        return "offline"
    if dnd in _DND:
        return "dnd"
    if user == "Busy":
        return "away"
    return "available"


@dataclass(slots=True)
class _Agent:
    user: str | None = None
    dnd: str | None = None
    presence: str | None = None
    telephony: str | None = None
    sequence: int = -1
    state: Availability = "available"
    since: str = ""


class AgentBoard:
    """Presence of every extension seen, by extension id."""

    def __init__(self) -> None:
        self._agents: dict[str, _Agent] = {}

    def __len__(self) -> int:
        return len(self._agents)

    def apply(self, event: PresenceEvent, *, now: datetime) -> AgentView | None:
        """Merge a notification; the new view, or None if nothing changed
        (or it is older than what the board has)."""
        agent = self._agents.setdefault(event.extension_id, _Agent())
        if event.sequence is not None:
            if event.sequence <= agent.sequence:
                return None
            agent.sequence = event.sequence
        return self._update(
            event.extension_id,
            agent,
            user=event.user_status,
            dnd=event.dnd_status,
            presence=event.presence_status,
            telephony=event.telephony_status,
            at=event.event_time or now,
        )

    def load_record(self, record: dict[str, Any], *, now: datetime) -> AgentView | None:
        """Merge one record of `GET /account/~/presence` (REST carries no
        sequence: it is taken as current)."""
        extension_id = str((record.get("extension") or {}).get("id") or "")
        if not extension_id:
            return None
        agent = self._agents.setdefault(extension_id, _Agent())
        return self._update(
            extension_id,
            agent,
            user=record.get("userStatus"),
            dnd=record.get("dndStatus"),
            presence=record.get("presenceStatus"),
            telephony=record.get("telephonyStatus"),
            at=now,
        )

    def snapshot(self) -> list[AgentView]:
        return [_view(x, a) for x, a in self._agents.items()]

    def in_dnd(self) -> list[AgentView]:
        """The agents on Do Not Disturb now (for the alerts, each second)."""
        return [_view(x, a) for x, a in self._agents.items() if a.state == "dnd"]

    def _update(
        self,
        extension_id: str,
        agent: _Agent,
        *,
        user: str | None,
        dnd: str | None,
        presence: str | None,
        telephony: str | None,
        at: datetime,
    ) -> AgentView | None:
        before = (agent.user, agent.dnd, agent.presence, agent.telephony, agent.state)
        agent.user = user or agent.user
        agent.dnd = dnd or agent.dnd
        agent.presence = presence or agent.presence
        agent.telephony = telephony or agent.telephony  # only sent on change
        state = availability(user=agent.user, dnd=agent.dnd, presence=agent.presence)
        if state != agent.state or not agent.since:
            agent.state, agent.since = state, _stamp(at)
        after = (agent.user, agent.dnd, agent.presence, agent.telephony, agent.state)
        return None if after == before and agent.since else _view(extension_id, agent)


def _view(extension_id: str, agent: _Agent) -> AgentView:
    return {
        "extension_id": extension_id,
        "availability": agent.state,
        "since": agent.since,
        "user_status": agent.user,
        "dnd_status": agent.dnd,
        "presence_status": agent.presence,
        "telephony_status": agent.telephony,
    }


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
