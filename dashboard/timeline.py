"""A call's timeline: readable lines from the journal's successive states of
the call (telephony.models.CallEvent, each the whole CallView after one
published change) and the supervisors' commands on it, in time order.

Pure: the selectors read the rows (dashboard.selectors.call_page_get) and
hand them here; no database, no Django.

Each event line says what changed between two consecutive states: a party
joined or left, its status moved ("Agent Vera Costa (ext 2582): Proceeding
→ Answered"), it was held or taken off hold, muted, transferred, a
recording started, paused, resumed or stopped, the call ended and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from telephony.actions import ACTIONS
from telephony.live.views import CallView, PartyView, own_end

EntryKind = Literal[
    "started",
    "joined",
    "left",
    "status",
    "hold",
    "unhold",
    "transferred",
    "muted",
    "unmuted",
    "recording",
    "ended",
    "command",
]
ROLE_WORDS = {
    "agent": "Agent",
    "customer": "Customer",
    "queue": "Queue",
    "monitor": "Listening supervisor",
    "other": "Party",
}
FINAL_STATUSES = frozenset({"Disconnected", "Gone"})


@dataclass(frozen=True, slots=True)
class ExtensionName:
    """What the timeline needs of a directory entry."""

    number: str
    name: str


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """One journal row: when, "updated" or "ended", the call after it."""

    at: datetime
    kind: str
    call: CallView


@dataclass(frozen=True, slots=True)
class AuditedCommand:
    """One audit row of a command on the call."""

    at: datetime
    username: str
    action: str
    party_id: str
    params: Mapping[str, Any]
    outcome: str
    http_status: int | None
    error_code: str
    message: str


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of the timeline. Commands also carry who, the action's
    title, its parameters and outcome, and RingCentral's answer."""

    at: datetime
    kind: EntryKind
    text: str
    who: str = ""
    action: str = ""
    params: str = ""
    outcome: str = ""
    answer: str = ""

    @property
    def source(self) -> str:
        return "command" if self.kind == "command" else "event"


def party_label(party: PartyView, directory: Mapping[str, ExtensionName]) -> str:
    """ "Agent Vera Costa (ext 2582)", "Customer +14155550123", ..."""
    end = own_end(party)
    role = ROLE_WORDS.get(party.get("role") or "other", "Party")
    ext_id = party.get("extension_id") or end.get("extension_id")
    entry = directory.get(ext_id) if ext_id else None
    name = end.get("name") or (entry.name if entry else "")
    if entry and entry.number:
        tail = f"(ext {entry.number})"
    else:
        tail = end.get("phone_number") or ""
        if name and tail:
            tail = f"({tail})"
    words = " ".join(w for w in (role, name, tail) if w)
    return words if words != role else f"{role} {party['id']}"


def _recordings(party: PartyView) -> dict[str, bool]:
    return {r["id"]: r["active"] for r in party.get("recordings") or []}


def _party_changes(
    old: PartyView, new: PartyView, label: str
) -> Iterable[tuple[EntryKind, str]]:
    was, now = old["status"], new["status"]
    if was != now:
        reason = new.get("reason") or ""
        moved = f"{label}: {was} → {now}"
        if now == "Hold":
            yield "hold", f"{moved} (on hold)"
        elif was == "Hold" and now not in FINAL_STATUSES:
            yield "unhold", f"{moved} (off hold)"
        elif now == "Gone" or "transfer" in reason.lower():
            yield "transferred", f"{moved} (transferred{_reason(reason)})"
        elif now in FINAL_STATUSES:
            yield "left", f"{moved}{_reason(reason)}"
        else:
            yield "status", moved
    if old["muted"] != new["muted"]:
        yield (
            ("muted", f"{label} muted")
            if new["muted"]
            else (
                "unmuted",
                f"{label} unmuted",
            )
        )
    before, after = _recordings(old), _recordings(new)
    for rec_id, active in after.items():
        if rec_id not in before:
            state = "started" if active else "started, paused"
            yield "recording", f"{label}: recording {rec_id} {state}"
        elif before[rec_id] != active:
            state = "resumed" if active else "paused"
            yield "recording", f"{label}: recording {rec_id} {state}"
    for rec_id in before.keys() - after.keys():
        yield "recording", f"{label}: recording {rec_id} stopped"


def _reason(reason: str) -> str:
    return f" ({reason})" if reason else ""


def event_entries(
    events: Sequence[JournalEvent],
    directory: Mapping[str, ExtensionName],
    *,
    final_reason: str = "",
) -> list[TimelineEntry]:
    """The lines that consecutive journal states of one call tell."""
    entries: list[TimelineEntry] = []
    previous: dict[str, PartyView] | None = None
    for event in events:
        call = event.call
        parties = {p["id"]: p for p in call.get("parties") or []}
        lines: list[tuple[EntryKind, str]] = []
        if previous is None:
            direction = call.get("direction") or ""
            lines.append(("started", f"Call started{_reason(direction)}"))
            previous = {}
        for party_id, party in parties.items():
            old = previous.get(party_id)
            # A leg that ends loses its role ("other"): keep the one it had.
            named = party
            if old is not None and party.get("role") == "other":
                named = {**party, "role": old["role"]}
            label = party_label(named, directory)
            if old is None:
                lines.append(("joined", f"{label} joined: {party['status']}"))
            else:
                lines.extend(_party_changes(old, party, label))
        for party_id in previous.keys() - parties.keys():
            lines.append(("left", f"{party_label(previous[party_id], directory)} left"))
        if event.kind == "ended":
            reason = final_reason or _ended_reason(call)
            lines.append(("ended", f"Call ended{_reason(reason)}"))
        entries.extend(TimelineEntry(at=event.at, kind=k, text=t) for k, t in lines)
        previous = parties
    return entries


def _ended_reason(call: CallView) -> str:
    """The reason RingCentral gave the last leg to end, if any."""
    reasons = [
        (p.get("since") or "", p.get("reason") or "")
        for p in call.get("parties") or []
        if p.get("reason")
    ]
    return max(reasons)[1] if reasons else ""


def command_entry(command: AuditedCommand) -> TimelineEntry:
    action = ACTIONS.get(command.action)
    title = action.title if action else command.action
    params = ", ".join(f"{k}={v}" for k, v in sorted(command.params.items()))
    answer = " ".join(
        part
        for part in (
            f"HTTP {command.http_status}" if command.http_status else "",
            command.error_code,
            command.message,
        )
        if part
    )
    text = f"{command.username}: {title}{_reason(params)} → {command.outcome}"
    return TimelineEntry(
        at=command.at,
        kind="command",
        text=text,
        who=command.username,
        action=title,
        params=params,
        outcome=command.outcome,
        answer=answer,
    )


def timeline_entries(
    events: Sequence[JournalEvent],
    commands: Sequence[AuditedCommand],
    directory: Mapping[str, ExtensionName],
    *,
    final_reason: str = "",
) -> list[TimelineEntry]:
    """Event lines and command lines merged in time order (a command before
    the change it caused when both carry the same instant)."""
    merged = [
        *(
            (e.at, 1, i, e)
            for i, e in enumerate(
                event_entries(events, directory, final_reason=final_reason)
            )
        ),
        *((c.at, 0, i, command_entry(c)) for i, c in enumerate(commands)),
    ]
    merged.sort(key=lambda item: item[:3])
    return [item[3] for item in merged]
