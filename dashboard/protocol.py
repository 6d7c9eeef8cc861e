"""The browser protocol of `/ws/console/`: every frame, typed, built here.

Server -> browser (one shape per `type`):
  snapshot          {serverTime, epoch, seq, calls, worker}
  call_updated      {epoch, seq, call}
  call_ended        {epoch, seq, call}
  worker_status     {epoch, worker}
  command_result    {requestId, ok, action, sessionId, message, errorCode,
                     status, retryAfter}
  command_confirmed {requestId, confirmed, message}
  error             {message, requestId}   (requestId: null when none)
Browser -> server:
  command           {requestId, action, sessionId, partyId, params?}
  resync            {}

`seq` numbers the worker's changes within an `epoch` (one worker run): the
page drops what its snapshot already holds and resyncs on a gap or a new
epoch (static/dashboard/console.js). Frames are JSON without spaces.
The wire form of a call (`call_wire`) is what the page reads; the server's
typed view (`telephony.live.views.CallView`) stays on the server.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import UnionType
from typing import Any, Literal, TypedDict, Union, get_args, get_origin, get_type_hints

from telephony.live.views import CallView, EndpointView, PartyView

JsonDict = dict[str, Any]


class SnapshotFrame(TypedDict):
    type: Literal["snapshot"]
    serverTime: str
    epoch: str
    seq: int
    calls: list[JsonDict]
    worker: JsonDict


class CallFrame(TypedDict):
    type: Literal["call_updated", "call_ended"]
    epoch: str
    seq: int
    call: JsonDict


class WorkerStatusFrame(TypedDict):
    type: Literal["worker_status"]
    epoch: str
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


class ErrorFrame(TypedDict):
    type: Literal["error"]
    message: str
    requestId: str | None


# Every frame the server sends, by type (tests validate against these).
FRAMES: dict[str, type] = {
    "snapshot": SnapshotFrame,
    "call_updated": CallFrame,
    "call_ended": CallFrame,
    "worker_status": WorkerStatusFrame,
    "command_result": CommandResultFrame,
    "command_confirmed": CommandConfirmedFrame,
    "error": ErrorFrame,
}


def dumps(frame: Any) -> str:
    """A frame as the JSON text sent to browsers (no spaces)."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


# --- the wire form of a call ------------------------------------------------


def _endpoint_wire(end: EndpointView) -> JsonDict:
    return {
        "phoneNumber": end["phone_number"],
        "name": end["name"],
        "extensionId": end["extension_id"],
        "deviceId": end["device_id"],
    }


def _party_wire(party: PartyView) -> JsonDict:
    return {
        "id": party["id"],
        "extensionId": party["extension_id"],
        "direction": party["direction"],
        "status": party["status"],
        "reason": party["reason"],
        "since": party["since"],
        "from": _endpoint_wire(party["from_"]),
        "to": _endpoint_wire(party["to"]),
        "muted": party["muted"],
        "queueCall": party["queue_call"],
        "recordings": party["recordings"],
    }


def call_wire(call: CallView) -> JsonDict:
    """The call as the console reads it (camelCase, what it shows)."""
    return {
        "id": call["id"],
        "startedAt": call["started_at"],
        "updatedAt": call["updated_at"],
        "state": call["state"],
        "direction": call["direction"],
        "agentPartyId": call["agent_party_id"],
        "customerPartyId": call["customer_party_id"],
        "answeredAt": call["answered_at"],
        "parties": [_party_wire(p) for p in call["parties"]],
    }


# --- builders ----------------------------------------------------------------


def snapshot(
    *, epoch: str, seq: int, calls: list[CallView], worker: JsonDict
) -> SnapshotFrame:
    return {
        "type": "snapshot",
        "serverTime": datetime.now(UTC).isoformat(),
        "epoch": epoch,
        "seq": seq,
        "calls": [call_wire(c) for c in calls],
        "worker": worker,
    }


def call_changed(*, ended: bool, epoch: str, seq: int, call: CallView) -> CallFrame:
    return {
        "type": "call_ended" if ended else "call_updated",
        "epoch": epoch,
        "seq": seq,
        "call": call_wire(call),
    }


def worker_status(*, epoch: str, worker: JsonDict) -> WorkerStatusFrame:
    return {"type": "worker_status", "epoch": epoch, "worker": worker}


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


def error(message: str, *, request_id: str | None = None) -> ErrorFrame:
    return {"type": "error", "message": message, "requestId": request_id}


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
