"""The live model: calls in progress, merged from telephony events.

Pure and in memory; the worker owns one. `apply` merges a `SessionEvent`,
`load_session` RingCentral's REST view of a session, `remove` forgets one.
Each returns the `Change` to publish (bumping `version`, the delta sequence
number, by exactly one) or None when nothing visible changed.

Merging (docs/ringcentral.md 6.7): parties merge by id; an event not newer than the
last one applied to its party, or with a recently seen `uuid`, is dropped. A
session ends when every party it has seen is finished (`PartyStatus.finished`).
Ended sessions stay *dormant* (the last `ended_sessions` of them) as per-party
sequence guards, so late or replayed events cannot resurrect them; only news
newer than the end can. A new session whose first event is already final is
not shown (the subscriber joined late) but is kept dormant the same way, so
out-of-order delivery still converges.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Literal

from telephony.live.views import (
    CallState,
    CallView,
    EndpointView,
    PartyView,
    QueueRef,
    Role,
)
from telephony.ringcentral.events import (
    CallSessionSnapshot,
    Endpoint,
    PartyEvent,
    SessionEvent,
)


@dataclass(frozen=True, slots=True)
class Change:
    """A call to publish: updated, or ended (then `call` is its final state)."""

    kind: Literal["updated", "ended"]
    version: int
    call: CallView


_STATE_BY_CODE: dict[str, CallState] = {
    "Setup": "setup",
    "Proceeding": "ringing",
    "Answered": "talking",
    "Hold": "held",
    "Parked": "parked",
    "Voicemail": "voicemail",
    "VoiceMailScreening": "voicemail",
    "FaxReceive": "talking",
}
_ENGAGED = frozenset({"Answered", "Hold"})
_REVERSED = {"Inbound": "Outbound", "Outbound": "Inbound"}
_FOREVER = 2**63  # a dormant session's end that no event can be newer than


@dataclass(slots=True)
class _Party:
    """One party's latest event plus what the event alone cannot tell."""

    event: PartyEvent
    sequence: int
    since: str  # when the status code last changed
    answered_at: str | None  # when first seen Answered or on Hold


@dataclass(slots=True)
class _Session:
    id: str
    # Sequence guards of parties no longer shown (dormancy, REST view).
    retired: dict[str, int] | None = None
    session_id: str | None = None
    origin: str | None = None
    sequence: int = 0
    started_at: str = ""
    updated_at: str = ""
    hold_count: int = 0
    parties: dict[str, _Party] = field(default_factory=dict)


@dataclass(slots=True)
class _Dormant:
    ended_at: int  # the session's sequence when it ended; 0: never live
    guards: dict[str, int]


@dataclass(slots=True)
class Knowledge:
    """What events alone cannot tell about legs, told by the worker: which
    extensions are call queues (from the extension directory), which legs
    are supervisors listening in (the supervise request's answer names the
    new leg; after a restart, a leg on a supervisor's device that calls from
    another party's extension is taken for one)."""

    queues: dict[str, str] = field(default_factory=dict)  # extension id -> name
    monitor_devices: frozenset[str] = frozenset()
    monitor_legs: set[tuple[str, str]] = field(default_factory=set)


class LiveModel:
    """Calls in progress keyed by telephonySessionId; see the module doc."""

    def __init__(
        self, *, recent_uuids: int = 10_000, ended_sessions: int = 4_096
    ) -> None:
        self.known = Knowledge()
        self.version = 0
        self._live: dict[str, _Session] = {}
        self._dormant: OrderedDict[str, _Dormant] = OrderedDict()
        self._dormant_limit = ended_sessions
        self._recent: deque[str] = deque(maxlen=recent_uuids)
        self._recent_set: set[str] = set()
        # Events dropped by `apply`, for metrics (telephony.metrics).
        self.dropped_stale = 0
        self.dropped_duplicate = 0

    def apply(self, event: SessionEvent) -> Change | None:
        """Merge one event; None when it is stale, a duplicate or a no-op."""
        if self._seen(event.uuid):
            self.dropped_duplicate += 1
            return None
        session = self._live.get(event.telephony_session_id)
        if session is None:
            return self._apply_dormant(event)
        merged = _merge(session, event)
        if merged is None:
            self.dropped_stale += 1
        if not merged:
            return None
        return self._publish(session)

    def load_session(
        self, snap: CallSessionSnapshot, *, now: datetime
    ) -> Change | None:
        """Replace a session's parties with RingCentral's current view.

        `now` (aware) stands in for event times, which REST bodies lack.
        Returns "updated" if anything differs, "ended" if every party is
        finished, None if nothing changed (or the call is unknown and over).
        """
        stamp = _stamp(now.astimezone(UTC))
        if (session := self._live.get(snap.id)) is not None:
            if not _replace_parties(session, snap, stamp):
                return None
            return self._publish(session)
        dormant = self._dormant.pop(snap.id, None)
        session = _Session(snap.id, dict(dormant.guards) if dormant else None)
        session.sequence = max(session.retired.values()) if session.retired else 0
        _replace_parties(session, snap, stamp)
        if _all_finished(session):
            self._bury(session, ended_at=dormant.ended_at if dormant else None)
            return None
        self._live[snap.id] = session
        return self._change("updated", session)

    def restore_times(self, stored: CallView) -> Change | None:
        """Take back what a restart forgot from a call's last stored state
        (telephony.history.journal): REST bodies carry no times, so a call
        loaded after a restart would start its clocks at the load. For each
        party whose status is still the stored one, the stored `since`
        (a hold in progress keeps its hold time), the agent's answer time,
        the call's start and hold count. "updated" if anything changed."""
        session = self._live.get(stored["id"])
        if session is None:
            return None
        changed = False
        by_id = {p["id"]: p for p in stored["parties"]}
        for party_id, party in session.parties.items():
            old = by_id.get(party_id)
            if old is None or old["status"] != party.event.status.code:
                continue
            if old["since"] and old["since"] < party.since:
                party.since, changed = old["since"], True
            answered = stored["answered_at"]
            if (
                party_id == stored["agent_party_id"]
                and answered
                and party.answered_at
                and answered < party.answered_at
            ):
                party.answered_at, changed = answered, True
        if stored["started_at"] and (
            not session.started_at or stored["started_at"] < session.started_at
        ):
            session.started_at, changed = stored["started_at"], True
        if stored["hold_count"] > session.hold_count:
            session.hold_count, changed = stored["hold_count"], True
        return self._change("updated", session) if changed else None

    def remove(self, telephony_session_id: str) -> Change | None:
        """Forget a session (e.g. GET returned 404): "ended", or None."""
        session = self._live.pop(telephony_session_id, None)
        if session is None:
            return None
        self._bury(session, ended_at=_FOREVER)  # RingCentral forgot it
        return self._change("ended", session)

    def mark_monitor(self, session_id: str, party_id: str) -> Change | None:
        """A supervisor's listening leg: never the agent, never a target."""
        self.known.monitor_legs.add((session_id, party_id))
        session = self._live.get(session_id)
        return None if session is None else self._change("updated", session)

    def snapshot(self) -> tuple[int, list[CallView]]:
        """The version and every live call, sorted by start time."""
        calls = [_call_dict(s, self.known, ended=False) for s in self._live.values()]
        calls.sort(key=itemgetter("started_at", "id"))
        return self.version, calls

    def live_ids(self) -> list[str]:
        """The live calls' ids, without building their views (a snapshot
        builds all of them: thousands, in one turn of the loop)."""
        return list(self._live)

    def get(self, telephony_session_id: str) -> CallView | None:
        """One live call, or None."""
        session = self._live.get(telephony_session_id)
        return None if session is None else _call_dict(session, self.known, ended=False)

    def recently_ended(self, telephony_session_id: str) -> bool:
        """True for a session that ended (or was only seen ending) lately."""
        return telephony_session_id in self._dormant

    def __len__(self) -> int:
        return len(self._live)

    def _seen(self, uuid: str) -> bool:
        if uuid in self._recent_set:
            return True
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(uuid)
        self._recent_set.add(uuid)
        return False

    def _apply_dormant(self, event: SessionEvent) -> Change | None:
        sid = event.telephony_session_id
        dormant = self._dormant.get(sid)
        session = _Session(sid, dict(dormant.guards) if dormant else None)
        if _merge(session, event) is None:
            self.dropped_stale += 1
            return None
        if _all_finished(session):  # keep its guards, show nothing
            self._bury(session, ended_at=dormant.ended_at if dormant else 0)
            return None
        if dormant is not None:
            if event.sequence <= dormant.ended_at:  # history of an ended call
                self.dropped_stale += 1
                return None
            del self._dormant[sid]
        self._live[sid] = session
        return self._change("updated", session)

    def _publish(self, session: _Session) -> Change:
        if not _all_finished(session):
            return self._change("updated", session)
        del self._live[session.id]
        self._bury(session)
        return self._change("ended", session)

    def _change(self, kind: Literal["updated", "ended"], session: _Session) -> Change:
        self.version += 1
        call = _call_dict(session, self.known, ended=kind == "ended")
        return Change(kind=kind, version=self.version, call=call)

    def _bury(self, session: _Session, ended_at: int | None = None) -> None:
        guards = dict(session.retired or {})
        guards.update((pid, p.sequence) for pid, p in session.parties.items())
        at = session.sequence if ended_at is None else ended_at
        self._dormant[session.id] = _Dormant(at, guards)
        self.known.monitor_legs -= {(session.id, p) for p in session.parties}
        self._dormant.move_to_end(session.id)
        if len(self._dormant) > self._dormant_limit:
            self._dormant.popitem(last=False)


def _stamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and Z: sorts as text, JSON-ready."""
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


def _merge(session: _Session, event: SessionEvent) -> bool | None:
    """Merge an event's parties: None if all stale, False if no-op."""
    stamp = _stamp(event.event_time)
    outcome: bool | None = None
    for party in event.parties:
        result = _merge_party(session, party, event.sequence, stamp)
        if result is not None:
            outcome = bool(outcome) or result
    if outcome is not None:
        session.sequence = max(session.sequence, event.sequence)
        session.started_at = min(session.started_at or stamp, stamp)
        session.updated_at = max(session.updated_at, stamp)
        session.session_id = event.session_id or session.session_id
        session.origin = event.origin or session.origin
    return outcome


def _merge_party(
    session: _Session, new: PartyEvent, sequence: int, stamp: str
) -> bool | None:
    old = session.parties.get(new.id)
    floor = old.sequence if old else (session.retired or {}).get(new.id, -1)
    if sequence <= floor:
        return None
    if old is None:
        _add_party(session, new, sequence, stamp)
        return True
    old.sequence = sequence
    return _set_event(session, old, new, stamp)


def _add_party(session: _Session, new: PartyEvent, sequence: int, stamp: str) -> None:
    answered = stamp if new.status.code in _ENGAGED else None
    session.parties[new.id] = _Party(new, sequence, stamp, answered)
    if new.status.code == "Hold":
        session.hold_count += 1


def _set_event(session: _Session, party: _Party, new: PartyEvent, stamp: str) -> bool:
    if new == party.event:
        return False
    code = new.status.code
    if code != party.event.status.code:
        party.since = stamp
        if code == "Hold":
            session.hold_count += 1
    if party.answered_at is None and code in _ENGAGED:
        party.answered_at = stamp
    party.event = new
    return True


def _replace_parties(session: _Session, snap: CallSessionSnapshot, stamp: str) -> bool:
    """Make the REST view the session's parties; True if anything changed.

    REST parties carry no sequence. Any event numbered up to the session's
    last applied sequence happened before the GET, so that is each party's
    new floor: later stale events are still dropped.
    """
    floor, listed = session.sequence, {p.id for p in snap.parties}
    retired = session.retired or {}
    changed = listed != session.parties.keys()
    for pid in [pid for pid in session.parties if pid not in listed]:
        retired[pid] = max(session.parties.pop(pid).sequence, floor)
    for new in snap.parties:
        if (old := session.parties.get(new.id)) is None:
            _add_party(session, new, max(floor, retired.get(new.id, 0)), stamp)
        else:
            old.sequence = max(old.sequence, floor)
            changed = _set_event(session, old, new, stamp) or changed
    session.retired = retired or None
    started = _stamp(snap.creation_time) if snap.creation_time else stamp
    started = min(session.started_at or started, started)
    origin = snap.origin or session.origin
    if not changed and (started, origin) == (session.started_at, session.origin):
        return False
    session.started_at, session.origin = started, origin
    session.updated_at = max(session.updated_at, stamp)
    return True


def _all_finished(session: _Session) -> bool:
    return all(p.event.status.finished for p in session.parties.values())


def _pick(ranked: Iterable[tuple[tuple[int, ...], _Party]]) -> _Party | None:
    best = max(ranked, key=itemgetter(0), default=None)
    return None if best is None else best[1]


def _agent(parties: list[_Party], *, ended: bool) -> _Party | None:
    """The RingCentral user's party: a live party with an extensionId.

    Prefer the callee side (Inbound: the user a PSTN call or an internal
    call rings), then a party that has answered, then the latest created.
    So an IVR leg gives way to the user it hands the call to, a queue agent
    who answered beats one still ringing, and an internal call shows the
    callee. Once the call has ended, finished parties count too.
    """
    return _pick(
        ((p.event.direction == "Inbound", p.answered_at is not None, i), p)
        for i, p in enumerate(parties)
        if p.event.extension_id and (ended or not p.event.status.finished)
    )


def _customer(parties: list[_Party], agent: _Party | None) -> _Party | None:
    """The other side: prefer live, then external (no extensionId), then first."""
    return _pick(
        ((not p.event.status.finished, p.event.extension_id is None, -i), p)
        for i, p in enumerate(parties)
        if p is not agent
    )


def _state(
    parties: list[_Party], agent: _Party | None, customer: _Party | None
) -> CallState:
    """From the agent's status, else the customer's, else any live party's;
    "held" whenever a live party is on Hold."""
    live = [p for p in parties if not p.event.status.finished]
    if any(p.event.status.code == "Hold" for p in live):
        return "held"
    for party in (agent, customer, *live):
        if party is None or party.event.status.finished:
            continue
        if (state := _STATE_BY_CODE.get(party.event.status.code)) is not None:
            return state
    return "setup"


def _direction(agent: _Party | None, customer: _Party | None) -> str | None:
    """The agent's leg direction, "Internal" when both sides are users; with
    no agent yet, the reverse of the external caller's technical direction."""
    if agent is None:
        return _REVERSED.get(customer.event.direction or "") if customer else None
    if customer is not None and customer.event.extension_id:
        return "Internal"
    return agent.event.direction


def _roles(session: _Session, known: Knowledge) -> dict[str, Role]:
    """Queue and monitor legs; the rest are decided by `_agent`/`_customer`."""
    users = {p.event.extension_id for p in session.parties.values()}
    roles: dict[str, Role] = {}
    for pid, party in session.parties.items():
        event = party.event
        if (session.id, pid) in known.monitor_legs or (
            event.to.device_id in known.monitor_devices
            and event.from_.extension_id not in (None, event.extension_id)
            and event.from_.extension_id in users
        ):
            roles[pid] = "monitor"
        elif event.extension_id in known.queues:
            roles[pid] = "queue"
    return roles


def _queue(
    parties: list[_Party], roles: dict[str, Role], known: Knowledge
) -> QueueRef | None:
    """The queue leg's extension, else a queue name the app would display."""
    for party in parties:
        if roles.get(party.event.id) == "queue":
            ext = party.event.extension_id
            return {"extension_id": ext, "name": known.queues.get(ext or "")}
    for party in parties:
        info = party.event.ui_call_info
        for line in (info.primary, info.additional) if info else ():
            if line is not None and line.type == "QueueName" and line.value:
                ext = next(
                    (x for x, n in known.queues.items() if n == line.value), None
                )
                return {"extension_id": ext, "name": line.value}
    return None


def _call_dict(session: _Session, known: Knowledge, *, ended: bool) -> CallView:
    parties = list(session.parties.values())
    roles = _roles(session, known)
    plain = [p for p in parties if p.event.id not in roles]
    agent = _agent(plain, ended=ended)
    customer = _customer(plain, agent)
    if agent is not None:
        roles[agent.event.id] = "agent"
    if customer is not None:
        roles[customer.event.id] = "customer"
    return {
        "id": session.id,
        "session_id": session.session_id,
        "origin": session.origin,
        "sequence": session.sequence,
        "started_at": session.started_at,
        "updated_at": session.updated_at,
        "state": "ended" if ended else _state(parties, agent, customer),
        "direction": _direction(agent, customer),
        "agent_party_id": agent.event.id if agent else None,
        "customer_party_id": customer.event.id if customer else None,
        "answered_at": agent.answered_at if agent else None,
        "hold_count": session.hold_count,
        "queue": _queue(parties, roles, known),
        "parties": [_party_dict(p, roles.get(p.event.id, "other")) for p in parties],
    }


def _party_dict(party: _Party, role: Role) -> PartyView:
    event, status = party.event, party.event.status
    return {
        "id": event.id,
        "account_id": event.account_id,
        "extension_id": event.extension_id,
        "direction": event.direction,
        "status": status.code,
        "reason": status.reason,
        "since": party.since,
        "from_": _endpoint_dict(event.from_),
        "to": _endpoint_dict(event.to),
        "muted": event.muted,
        "stand_alone": event.stand_alone,
        "missed_call": event.missed_call,
        "queue_call": event.queue_call,
        "park_id": event.park_id,
        "recordings": [{"id": r.id, "active": r.active} for r in event.recordings],
        "sequence": party.sequence,
        "role": role,
    }


def _endpoint_dict(end: Endpoint) -> EndpointView:
    return {
        "phone_number": end.phone_number,
        "name": end.name,
        "extension_id": end.extension_id,
        "device_id": end.device_id,
    }
