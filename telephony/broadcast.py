"""The one contract between the telephony worker and the dashboard.

Every channel-layer message either side sends is built here: group and
channel names, `type` strings, payload shapes. Nothing else calls
`group_send` or `send` on the layer for telephony traffic, so the two sides
cannot drift apart (compare zulip's `zerver/tornado/django_api.py`).

Payloads are plain JSON-ready dicts (str, int, float, bool, None, list,
dict): channels_redis serialises them with msgpack and the consoles get
them as JSON.

Flow:
- worker -> group SUPERVISORS: `telephony.call_updated` / `telephony.call_ended`
  with a monotonically increasing `seq`, and `telephony.worker_status`.
  `seq` counts within an `epoch` (one worker run): a restarted worker
  starts a new epoch, so consoles know to fetch a new snapshot.
- consumer -> channel WORKER_INBOX: `telephony.snapshot_requested`,
  `telephony.command_requested` (each names the consumer's reply channel).
- worker -> that reply channel: `telephony.snapshot_sent`,
  `telephony.command_replied`.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from telephony.live.views import CallView

# Every supervisor console joins this group.
SUPERVISORS = "telephony.supervisors"
# The worker's inbox: a plain named channel, so exactly one worker reads
# each message, whichever process it runs in.
WORKER_INBOX = "telephony.worker"

JsonDict = dict[str, Any]

CallKind = Literal["updated", "ended"]
# An action name of the registry (telephony.actions.ACTIONS).
CommandAction = str


class CallChanged(TypedDict):
    type: Literal["telephony.call_updated", "telephony.call_ended"]
    epoch: str
    seq: int
    call: CallView


class WorkerStatus(TypedDict):
    type: Literal["telephony.worker_status"]
    epoch: str
    seq: int
    status: JsonDict


class SnapshotRequested(TypedDict):
    type: Literal["telephony.snapshot_requested"]
    reply_to: str


class SnapshotSent(TypedDict):
    type: Literal["telephony.snapshot_sent"]
    epoch: str
    seq: int
    calls: list[CallView]
    status: JsonDict


class CommandRequested(TypedDict):
    type: Literal["telephony.command_requested"]
    reply_to: str
    request_id: str
    action: CommandAction
    session_id: str
    party_id: str
    user: str
    params: NotRequired[JsonDict]


class CommandConfirmed(TypedDict):
    type: Literal["telephony.command_confirmed"]
    request_id: str
    confirmed: bool
    message: str


class HealthRequested(TypedDict):
    type: Literal["telephony.health_requested"]
    reply_to: str


class HealthSent(TypedDict):
    type: Literal["telephony.health_sent"]
    health: JsonDict


class CommandReplied(TypedDict):
    type: Literal["telephony.command_replied"]
    request_id: str
    ok: bool
    action: str
    session_id: str
    status: int | None
    error_code: str | None
    message: str
    retry_after: float | None


# Every `type` a consumer of the SUPERVISORS group or of a reply must handle.
CONSUMER_TYPES = (
    "telephony.call_updated",
    "telephony.call_ended",
    "telephony.worker_status",
    "telephony.snapshot_sent",
    "telephony.command_replied",
    "telephony.command_confirmed",
)
# Every `type` the worker's inbox accepts.
WORKER_TYPES = (
    "telephony.snapshot_requested",
    "telephony.command_requested",
    "telephony.health_requested",
)


async def publish_call_changed(
    layer: Any, *, kind: CallKind, epoch: str, seq: int, call: CallView
) -> None:
    """Tell every console that a call changed (or ended)."""
    message: CallChanged = {
        "type": "telephony.call_updated"
        if kind == "updated"
        else "telephony.call_ended",
        "epoch": epoch,
        "seq": seq,
        "call": call,
    }
    await layer.group_send(SUPERVISORS, message)


async def publish_worker_status(
    layer: Any, *, epoch: str, seq: int, status: JsonDict
) -> None:
    """Tell every console whether the worker is connected to RingCentral."""
    message: WorkerStatus = {
        "type": "telephony.worker_status",
        "epoch": epoch,
        "seq": seq,
        "status": status,
    }
    await layer.group_send(SUPERVISORS, message)


async def request_snapshot(layer: Any, *, reply_to: str) -> None:
    """Ask the worker for every live call; it answers on `reply_to`."""
    message: SnapshotRequested = {
        "type": "telephony.snapshot_requested",
        "reply_to": reply_to,
    }
    await layer.send(WORKER_INBOX, message)


async def send_snapshot(
    layer: Any,
    *,
    channel: str,
    epoch: str,
    seq: int,
    calls: list[CallView],
    status: JsonDict,
) -> None:
    """Answer a snapshot request: calls as of `seq`, and the worker status."""
    message: SnapshotSent = {
        "type": "telephony.snapshot_sent",
        "epoch": epoch,
        "seq": seq,
        "calls": calls,
        "status": status,
    }
    await layer.send(channel, message)


async def request_command(
    layer: Any,
    *,
    reply_to: str,
    request_id: str,
    action: CommandAction,
    session_id: str,
    party_id: str,
    user: str,
    params: JsonDict | None = None,
) -> None:
    """Hand a supervisor's command to the worker, the only RingCentral caller.

    `params`: what the action needs besides the party, e.g. `recordingId`
    for record_pause/resume or one transfer target for transfer.
    """
    message: CommandRequested = {
        "type": "telephony.command_requested",
        "reply_to": reply_to,
        "request_id": request_id,
        "action": action,
        "session_id": session_id,
        "party_id": party_id,
        "user": user,
        "params": params or {},
    }
    await layer.send(WORKER_INBOX, message)


async def reply_command(
    layer: Any,
    *,
    channel: str,
    request_id: str,
    ok: bool,
    action: str,
    session_id: str,
    message: str,
    status: int | None = None,
    error_code: str | None = None,
    retry_after: float | None = None,
) -> None:
    """Tell the asking console whether RingCentral accepted its command."""
    reply: CommandReplied = {
        "type": "telephony.command_replied",
        "request_id": request_id,
        "ok": ok,
        "action": action,
        "session_id": session_id,
        "status": status,
        "error_code": error_code,
        "message": message,
        "retry_after": retry_after,
    }
    await layer.send(channel, reply)


async def request_health(layer: Any, *, reply_to: str) -> None:
    """Ask the worker how it is; it answers on `reply_to` (see /healthz)."""
    message: HealthRequested = {
        "type": "telephony.health_requested",
        "reply_to": reply_to,
    }
    await layer.send(WORKER_INBOX, message)


async def send_health(layer: Any, *, channel: str, health: JsonDict) -> None:
    """Answer a health request with the worker's freshness figures."""
    message: HealthSent = {"type": "telephony.health_sent", "health": health}
    await layer.send(channel, message)


async def confirm_command(
    layer: Any, *, channel: str, request_id: str, confirmed: bool, message: str
) -> None:
    """Tell the console whether the telephony event that proves an accepted
    command arrived in time (RingCentral's 200 alone proves little)."""
    reply: CommandConfirmed = {
        "type": "telephony.command_confirmed",
        "request_id": request_id,
        "confirmed": confirmed,
        "message": message,
    }
    await layer.send(channel, reply)
