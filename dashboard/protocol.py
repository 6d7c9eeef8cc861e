"""The browser protocol of `/ws/console/`: every frame, typed, built here.

Server -> browser (one shape per `type`):
  snapshot          {epoch, n, part, parts, time, worker, calls, agents,
                     alerts, attention, queues}
  delta             {epoch, n, time, calls, ended, agents, alerts, cleared,
                     attention, queues}
  worker_status     {time, worker}
  command_result    {requestId, ok, action, sessionId, message, errorCode,
                     status, retryAfter}
  command_confirmed {requestId, confirmed, message}
  access            {actions, acknowledge} (what this supervisor may do:
                                            action names; sent when the
                                            console opens and whenever an
                                            administrator changes it)
  error             {message, requestId}   (requestId: null when none)
  wall              {name, panels, queues, masked} (`/ws/wall/` only: the
                                            wall's settings, sent when it
                                            opens and when an administrator
                                            edits its token)
Browser -> server:
  command           {requestId, action, sessionId, partyId, params?}
  resync            {}
  ack               {alertId}              (acknowledge an alert)
  viewing           {sessionId}            (the call open on this console;
                                            null: none; repeat every 30 s)

The live floor reaches a page as ONE snapshot, sent in `parts` frames of at
most `SNAPSHOT_PART_BYTES` each (daphne refuses WebSocket messages over
1 MiB, and one big frame would hold the socket), then coalesced `delta`
frames: each holds the latest state of every call that changed within one
window of the process's live feed (dashboard.feed) and the ids of calls
that ended. Frames are numbered per process (`epoch` names the process's
feed, `n` counts its frames): a snapshot holds everything up to frame `n`;
the page applies delta `n + 1`, skips what it already has and asks for a
`resync` on a gap. Calls are full states, so applying a delta twice is
harmless. `time` is the server's clock (ms since 1970) when the frame was
built: the page shows how far behind it is. Frames are JSON without spaces.

A call's wire form (`call_wire`) is what the page shows and acts on, and
nothing else; the server's typed view (telephony.live.views.CallView)
stays on the server. Keys whose value is empty are left out:
  {id, state, dir, start, updated, answered, queue: {ext, name},
   agent: PARTY, customer: PARTY, others: [PARTY], left}
  PARTY = {id, status, since, dir, ext, name, number, muted, rec: {id,
   active}, queueCall, role ("queue" | "monitor" | "other"; agent and
   customer have their own slots)}; a `customer` without `id` is the other
   side as the agent's leg names it (its own leg is not known yet)
An agent's wire form (`agent_wire`): {ext, state (available | away | dnd |
offline), since, dnd (RingCentral's dndStatus when it keeps calls away),
tel (the line's telephonyStatus)}; agents never end, they change.
"""

from __future__ import annotations

import json
import time
from types import UnionType
from typing import Any, Literal, TypedDict, Union, get_args, get_origin, get_type_hints

from telephony.live.views import AgentView, CallView, PartyView, own_end
from telephony.redact import mask_number

JsonDict = dict[str, Any]


class SnapshotFrame(TypedDict):
    type: Literal["snapshot"]
    epoch: str
    n: int
    part: int
    parts: int
    time: int
    worker: JsonDict
    calls: list[JsonDict]
    agents: list[JsonDict]
    alerts: list[JsonDict]
    attention: list[JsonDict]
    queues: list[JsonDict]


class DeltaFrame(TypedDict):
    type: Literal["delta"]
    epoch: str
    n: int
    time: int
    calls: list[JsonDict]
    ended: list[str]
    agents: list[JsonDict]
    alerts: list[JsonDict]
    cleared: list[str]
    attention: list[JsonDict]
    queues: list[JsonDict]


class WorkerStatusFrame(TypedDict):
    type: Literal["worker_status"]
    time: int
    worker: JsonDict


class CommandResultFrame(TypedDict):
    type: Literal["command_result"]
    requestId: str
    ok: bool
    action: str
    sessionId: str | None
    message: str
    errorCode: str | None
    status: int | None
    retryAfter: float | None


class CommandConfirmedFrame(TypedDict):
    type: Literal["command_confirmed"]
    requestId: str
    confirmed: bool
    message: str


class AccessFrame(TypedDict):
    type: Literal["access"]
    actions: list[str]
    acknowledge: bool


class ErrorFrame(TypedDict):
    type: Literal["error"]
    message: str
    requestId: str | None


class WallFrame(TypedDict):
    type: Literal["wall"]
    name: str
    panels: list[str]
    queues: list[str]
    masked: bool


# Every frame the server sends, by type (tests validate against these).
FRAMES: dict[str, type] = {
    "snapshot": SnapshotFrame,
    "delta": DeltaFrame,
    "worker_status": WorkerStatusFrame,
    "command_result": CommandResultFrame,
    "command_confirmed": CommandConfirmedFrame,
    "access": AccessFrame,
    "error": ErrorFrame,
    "wall": WallFrame,
}


def dumps(frame: Any) -> str:
    """A frame as the JSON text sent to browsers (no spaces)."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


# --- the wire form of a call ------------------------------------------------

# A snapshot frame stays under this many bytes (daphne's limit is 1 MiB).
SNAPSHOT_PART_BYTES = 200_000


def _compact(fields: JsonDict) -> JsonDict:
    """Leave out empty values: the page reads a missing key as empty."""
    return {k: v for k, v in fields.items() if v not in (None, False, [], "")}


def party_wire(party: PartyView) -> JsonDict:
    """One leg as the page shows it: its own end's name and number."""
    end = own_end(party)
    recording = party["recordings"][0] if party["recordings"] else None
    return _compact(
        {
            "id": party["id"],
            "status": party["status"],
            "since": party["since"],
            "dir": party["direction"],
            "ext": party["extension_id"],
            "name": end["name"],
            "number": end["phone_number"],
            "muted": party["muted"],
            "rec": recording,
            "queueCall": party["queue_call"],
            # Agent and customer have their own slot; other legs say what
            # they are ("queue", "monitor": a supervisor listening in).
            "role": None if party["role"] in ("agent", "customer") else party["role"],
        }
    )


def call_wire(call: CallView) -> JsonDict:
    """The call as the console reads it (see the module docstring)."""
    by_id = {p["id"]: p for p in call["parties"]}
    agent = by_id.get(call["agent_party_id"] or "")
    customer = by_id.get(call["customer_party_id"] or "")
    rest = [p for p in call["parties"] if p is not agent and p is not customer]
    others = [p for p in rest if not _left(p)]
    return _compact(
        {
            "id": call["id"],
            "state": call["state"],
            "dir": call["direction"],
            "start": call["started_at"],
            "updated": call["updated_at"],
            "answered": call["answered_at"],
            "queue": _queue_wire(call),
            "agent": party_wire(agent) if agent else None,
            "customer": party_wire(customer) if customer else _far_end(agent),
            "others": [party_wire(p) for p in others],
            "left": len(rest) - len(others),
        }
    )


def masked_call_wire(call: CallView) -> JsonDict:
    """The call as a wall that masks numbers gets it (dashboard.wall): every
    leg's number keeps its last four digits (telephony.redact.mask_number:
    `+14155550123` -> `…0123`), and a leg outside the account (no
    extension: a customer) loses its caller-ID name. Built on the server,
    so the TV never receives a customer's whole number."""
    wire = call_wire(call)
    for slot in ("agent", "customer"):
        if slot in wire:
            wire[slot] = _masked_party(wire[slot])
    if "others" in wire:
        wire["others"] = [_masked_party(party) for party in wire["others"]]
    return wire


def _masked_party(party: JsonDict) -> JsonDict:
    masked = dict(party)
    if "number" in masked:
        masked["number"] = mask_number(masked["number"])
    if not masked.get("ext"):
        masked.pop("name", None)
    return masked


def agent_wire(agent: AgentView) -> JsonDict:
    """An agent's presence as the page shows it: what they set (`state`:
    available, away, dnd, offline), since when, RingCentral's DND value when
    it keeps calls away, and their line's telephony status."""
    return _compact(
        {
            "ext": agent["extension_id"],
            "state": agent["availability"],
            "since": agent["since"],
            "dnd": agent["dnd_status"] if agent["availability"] == "dnd" else None,
            "tel": agent["telephony_status"],
        }
    )


def alert_wire(alert: Any) -> JsonDict:
    """An alert (telephony.live.alerts.AlertView) as every console shows it:
    {id, kind, subject (call | queue | agent), subjectId, queue, since,
    threshold (seconds; percent for service_level), fix, ackedBy, ackedAt}.
    `fix` names what fixes it: {action, sessionId, partyId} (a command) or
    {view: "queue", queue} / {view: "agent", ext} (what to show)."""
    return _compact(
        {
            "id": alert["id"],
            "kind": alert["kind"],
            "subject": alert["subject"],
            "subjectId": alert["subject_id"],
            "queue": alert["queue"],
            "since": alert["since"],
            "threshold": alert["threshold"],
            "fix": alert["fix"],
            "ackedBy": alert["acked_by"],
            "ackedAt": alert["acked_at"],
        }
    )


def attention_wire(view: Any) -> JsonDict:
    """The supervisors on a call: {id, viewers: [username], pending:
    [{user, action}]} (empty lists: nobody any more)."""
    return {
        "id": view["session_id"],
        "viewers": view["viewers"],
        "pending": view["pending"],
    }


def queue_wire(figures: Any) -> JsonDict:
    """A queue's figures today: {ext, name, offered, answered, abandoned,
    withinSl, slSeconds, slTarget, avgWait, avgHandle}."""
    return {
        "ext": figures["extension_id"],
        "name": figures["name"],
        "offered": figures["offered"],
        "answered": figures["answered"],
        "abandoned": figures["abandoned"],
        "withinSl": figures["within_service_level"],
        "slSeconds": figures["service_level_seconds"],
        "slTarget": figures["service_level_target"],
        "avgWait": figures["average_wait"],
        "avgHandle": figures["average_handle"],
    }


def _queue_wire(call: CallView) -> JsonDict | None:
    queue = call["queue"]
    if queue is None:
        return None
    return _compact({"ext": queue["extension_id"], "name": queue["name"]}) or None


def _far_end(agent: PartyView | None) -> JsonDict | None:
    """The other side as the agent's leg names it, when the call's own leg
    for it is not known (events before the worker joined; the resync reads
    it in time): who is calling is shown, and found by search, at once.
    It has no `id`: there is no leg to act on."""
    if agent is None:
        return None
    far = agent["to"] if agent["direction"] == "Outbound" else agent["from_"]
    if not far["phone_number"] and not far["name"]:
        return None
    return _compact(
        {"name": far["name"], "number": far["phone_number"], "ext": far["extension_id"]}
    )


def _left(party: PartyView) -> bool:
    return party["status"] in ("Disconnected", "Gone")


def now_ms() -> int:
    return int(time.time() * 1000)


# --- builders ----------------------------------------------------------------


# The collections of the floor, in frame order (dashboard.mirror).
COLLECTIONS = ("calls", "agents", "alerts", "attention", "queues")


def snapshot_parts(
    *, epoch: str, n: int, worker: JsonDict, items: dict[str, list[str]]
) -> list[str]:
    """The snapshot as JSON texts of at most SNAPSHOT_PART_BYTES each.

    `items` holds each collection's wire forms already serialised (the live
    feed keeps each one's text), so a snapshot costs joins, not encoding.
    """
    groups: list[dict[str, list[str]]] = [{k: [] for k in COLLECTIONS}]
    size = 0
    for kind in COLLECTIONS:
        for text in items.get(kind, ()):
            if size + len(text) > SNAPSHOT_PART_BYTES - 1_000 and size:
                groups.append({k: [] for k in COLLECTIONS})
                size = 0
            groups[-1][kind].append(text)
            size += len(text) + 1
    head = dumps(
        {"type": "snapshot", "epoch": epoch, "n": n, "time": now_ms(), "worker": worker}
    )[:-1]
    return [
        f'{head},"part":{i},"parts":{len(groups)},{_lists(group)}}}'
        for i, group in enumerate(groups, start=1)
    ]


def delta(
    *,
    epoch: str,
    n: int,
    items: dict[str, list[str]],
    ended: list[str],
    cleared: list[str],
) -> str:
    """A delta frame's JSON text from the changed items' texts."""
    head = dumps({"type": "delta", "epoch": epoch, "n": n, "time": now_ms()})[:-1]
    gone = f'"ended":{dumps(ended)},"cleared":{dumps(cleared)}'
    return f"{head},{_lists(items)},{gone}}}"


def _lists(items: dict[str, list[str]]) -> str:
    return ",".join(f'"{k}":[{",".join(items.get(k, ()))}]' for k in COLLECTIONS)


def worker_status(*, worker: JsonDict) -> WorkerStatusFrame:
    return {"type": "worker_status", "time": now_ms(), "worker": worker}


def command_result(
    *,
    request_id: str,
    ok: bool,
    action: str,
    message: str,
    session_id: str | None = None,
    error_code: str | None = None,
    status: int | None = None,
    retry_after: float | None = None,
) -> CommandResultFrame:
    return {
        "type": "command_result",
        "requestId": request_id,
        "ok": ok,
        "action": action,
        "sessionId": session_id,
        "message": message,
        "errorCode": error_code,
        "status": status,
        "retryAfter": retry_after,
    }


def command_confirmed(
    *, request_id: str, confirmed: bool, message: str
) -> CommandConfirmedFrame:
    return {
        "type": "command_confirmed",
        "requestId": request_id,
        "confirmed": confirmed,
        "message": message,
    }


def access(*, actions: list[str], acknowledge: bool) -> AccessFrame:
    return {"type": "access", "actions": actions, "acknowledge": acknowledge}


def error(message: str, *, request_id: str | None = None) -> ErrorFrame:
    return {"type": "error", "message": message, "requestId": request_id}


def wall(*, name: str, panels: list[str], queues: list[str], masked: bool) -> WallFrame:
    """A wall's settings (its token's: dashboard.wall_tokens)."""
    return {
        "type": "wall",
        "name": name,
        "panels": panels,
        "queues": queues,
        "masked": masked,
    }


# --- validation (tests, and a guard for anyone adding a frame) --------------


def check_frame(frame: Any) -> None:
    """Raise ValueError unless `frame` has exactly its type's keys, each of
    the declared JSON kind. Shallow by design: nested call wire forms are
    built by `call_wire` alone."""
    if not isinstance(frame, dict) or frame.get("type") not in FRAMES:
        raise ValueError(f"unknown frame {frame!r:.200}")
    hints = get_type_hints(FRAMES[frame["type"]])
    if set(frame) != set(hints):
        raise ValueError(f"{frame['type']} keys {sorted(frame)} != {sorted(hints)}")
    for key, hint in hints.items():
        if not _fits(frame[key], hint):
            raise ValueError(
                f"{frame['type']}.{key} = {frame[key]!r:.80} is not {hint}"
            )


def _fits(value: Any, hint: Any) -> bool:
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return value in args
    if origin in (Union, UnionType):
        return any(_fits(value, arg) for arg in args)
    if origin in (list, dict):
        return isinstance(value, origin)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if isinstance(value, bool):
        return hint is bool
    if hint is float:
        return isinstance(value, int | float)
    return isinstance(value, hint)
