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
- Every message the worker sends also carries the `generation` of its
  lease (telephony.worker.lease: the fencing token, higher for each new
  leader), stamped by `stamp` as it leaves (telephony.worker.leader's
  FencedLayer); a dashboard drops messages of a lower generation than the
  highest it has seen, so a deposed leader cannot roll consoles back.
- consumer -> channel WORKER_INBOX: `telephony.snapshot_requested`,
  `telephony.command_requested` (each names the consumer's reply channel).
- worker -> that reply channel: `telephony.snapshot_sent`,
  `telephony.command_replied`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal, NotRequired, TypedDict

from redis.exceptions import ConnectionError as RedisConnectionError

from telephony.live.views import AgentView, CallView

# Every supervisor console joins this group.
SUPERVISORS = "telephony.supervisors"
# The worker's inbox: a plain named channel, so exactly one worker reads
# each message, whichever process it runs in.
WORKER_INBOX = "telephony.worker"

JsonDict = dict[str, Any]
# The lease generation of the worker that sent a message (see above).
GENERATION = "generation"

CallKind = Literal["updated", "ended"]
# An action name of the registry (telephony.actions.ACTIONS).
CommandAction = str


class CallChanged(TypedDict):
    type: Literal["telephony.call_updated", "telephony.call_ended"]
    epoch: str
    seq: int
    call: CallView
    generation: NotRequired[int]  # stamped on the way out


class AgentChanged(TypedDict):
    type: Literal["telephony.agent_updated"]
    epoch: str
    seq: int
    agent: AgentView
    generation: NotRequired[int]  # stamped on the way out


# What the worker adds for supervisors (telephony.worker.oversight), by kind.
OVERSIGHT_TYPES = {
    "alert": "telephony.alert_changed",
    "attention": "telephony.attention_changed",
    "queue": "telephony.queue_changed",
}


# The field naming each oversight item, by kind: a change replaces the item
# with that value (the worker's outbox, each process's copy of the floor).
OVERSIGHT_KEYS = {"alert": "id", "attention": "session_id", "queue": "extension_id"}


class OversightChanged(TypedDict):
    """An alert raised, acknowledged or cleared (`item` an AlertView), the
    supervisors on a call (an AttentionView), or a queue's figures today
    (QueueFigures)."""

    type: Literal[
        "telephony.alert_changed",
        "telephony.attention_changed",
        "telephony.queue_changed",
    ]
    epoch: str
    seq: int
    item: JsonDict
    generation: NotRequired[int]  # stamped on the way out


class WorkerStatus(TypedDict):
    type: Literal["telephony.worker_status"]
    epoch: str
    seq: int
    status: JsonDict
    generation: NotRequired[int]  # stamped on the way out


class SnapshotRequested(TypedDict):
    type: Literal["telephony.snapshot_requested"]
    reply_to: str


class SnapshotSent(TypedDict):
    type: Literal["telephony.snapshot_sent"]
    epoch: str
    seq: int
    part: int  # 1-based; the snapshot is complete when `parts` have come
    parts: int
    calls: list[CallView]
    agents: list[AgentView]
    alerts: list[JsonDict]  # the first part only (as are attention, queues)
    attention: list[JsonDict]
    queues: list[JsonDict]
    status: JsonDict
    generation: NotRequired[int]  # stamped on the way out


class CommandRequested(TypedDict):
    type: Literal["telephony.command_requested"]
    reply_to: str
    request_id: str
    action: CommandAction
    session_id: str
    party_id: str
    user: str  # the username at the time (the audit keeps it)
    user_id: NotRequired[int | None]  # the user's id (the audit's reference)
    params: NotRequired[JsonDict]


class CommandConfirmed(TypedDict):
    type: Literal["telephony.command_confirmed"]
    request_id: str
    confirmed: bool
    message: str
    generation: NotRequired[int]


class HealthRequested(TypedDict):
    type: Literal["telephony.health_requested"]
    reply_to: str


class HealthSent(TypedDict):
    type: Literal["telephony.health_sent"]
    health: JsonDict
    generation: NotRequired[int]


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
    generation: NotRequired[int]


# Every `type` a consumer of the SUPERVISORS group or of a reply must handle.
CONSUMER_TYPES = (
    "telephony.changes",
    "telephony.call_updated",
    "telephony.call_ended",
    "telephony.agent_updated",
    *OVERSIGHT_TYPES.values(),
    "telephony.worker_status",
    "telephony.snapshot_sent",
    "telephony.command_replied",
    "telephony.command_confirmed",
    "telephony.request_failed",
    "telephony.access_revoked",
    "telephony.access_changed",
    "telephony.wall_changed",
)
# Every `type` the worker's inbox accepts.
WORKER_TYPES = (
    "telephony.snapshot_requested",
    "telephony.command_requested",
    "telephony.health_requested",
    "telephony.viewing_reported",
    "telephony.alert_ack_requested",
)


def stamp(message: dict[str, Any], generation: int) -> dict[str, Any]:
    """Mark a message as sent by the leader of `generation` (in place)."""
    message[GENERATION] = generation
    return message


def call_changed(
    *, kind: CallKind, epoch: str, seq: int, call: CallView
) -> CallChanged:
    """A call changed (or ended)."""
    return {
        "type": "telephony.call_updated"
        if kind == "updated"
        else "telephony.call_ended",
        "epoch": epoch,
        "seq": seq,
        "call": call,
    }


def agent_changed(*, epoch: str, seq: int, agent: AgentView) -> AgentChanged:
    """An agent's presence changed."""
    return {
        "type": "telephony.agent_updated",
        "epoch": epoch,
        "seq": seq,
        "agent": agent,
    }


def oversight_changed(
    *, kind: str, epoch: str, seq: int, item: JsonDict
) -> OversightChanged:
    """An alert, a call's supervisors or a queue's figures changed (`kind`:
    a key of OVERSIGHT_TYPES)."""
    return {
        "type": OVERSIGHT_TYPES[kind],  # type: ignore[typeddict-item]
        "epoch": epoch,
        "seq": seq,
        "item": item,
    }


NumberedChange = CallChanged | AgentChanged | OversightChanged


class Changes(TypedDict):
    """Several numbered changes in one message, in their numbers' order:
    each send over Redis is a round trip, so a busy worker sends what has
    gathered at once (at most CHANGES_PER_MESSAGE)."""

    type: Literal["telephony.changes"]
    changes: list[NumberedChange]
    generation: NotRequired[int]  # stamped on the way out


CHANGES_PER_MESSAGE = 200


# Tries of one send over a dropped connection (Redis restarting).
SEND_ATTEMPTS = 3


async def send_again(
    send: Callable[[], Awaitable[None]],
    *,
    attempts: int = SEND_ATTEMPTS,
    before: Callable[[], None] | None = None,
) -> None:
    """`send()`, and again on a dropped connection: after a Redis restart
    the channel layer's pooled connections are dead, and the first send
    over one fails before anything is written, so sending again cannot
    deliver a message twice. `before` runs ahead of every try (the
    worker's fence: a deposed leader must not send at all)."""
    for attempt in range(attempts):
        if before is not None:
            before()
        try:
            await send()
            return
        except (RedisConnectionError, OSError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))  # Redis is coming back


async def publish_changes(layer: Any, changes: list[NumberedChange]) -> None:
    """Tell every dashboard process of these changes, in order: one alone
    as itself, several as one `telephony.changes`."""
    if len(changes) == 1:
        await layer.group_send(SUPERVISORS, changes[0])
    elif changes:
        message: Changes = {"type": "telephony.changes", "changes": changes}
        await layer.group_send(SUPERVISORS, message)


async def publish_call_changed(
    layer: Any, *, kind: CallKind, epoch: str, seq: int, call: CallView
) -> None:
    """Tell every console that a call changed (or ended)."""
    message = call_changed(kind=kind, epoch=epoch, seq=seq, call=call)
    await layer.group_send(SUPERVISORS, message)


async def publish_agent_changed(
    layer: Any, *, epoch: str, seq: int, agent: AgentView
) -> None:
    """Tell every dashboard process that an agent's presence changed."""
    message = agent_changed(epoch=epoch, seq=seq, agent=agent)
    await layer.group_send(SUPERVISORS, message)


async def publish_oversight(
    layer: Any, *, kind: str, epoch: str, seq: int, item: JsonDict
) -> None:
    """Tell every dashboard process of an alert, a call's supervisors or a
    queue's figures (`kind`: a key of OVERSIGHT_TYPES)."""
    message = oversight_changed(kind=kind, epoch=epoch, seq=seq, item=item)
    await layer.group_send(SUPERVISORS, message)


async def report_viewing(
    layer: Any, *, console: str, user: str, session_id: str | None
) -> None:
    """A console has this call open (None: no call), for the worker's
    record of who is on which call."""
    await layer.send(
        WORKER_INBOX,
        {
            "type": "telephony.viewing_reported",
            "console": console,
            "user": user,
            "session_id": session_id,
        },
    )


async def request_acknowledge(
    layer: Any, *, reply_to: str, user: str, alert_id: str
) -> None:
    """A supervisor takes an alert on; the worker tells everyone who."""
    await layer.send(
        WORKER_INBOX,
        {
            "type": "telephony.alert_ack_requested",
            "reply_to": reply_to,
            "user": user,
            "alert_id": alert_id,
        },
    )


async def reply_error(layer: Any, *, channel: str, message: str) -> None:
    """Tell one console its request could not be carried out, and why."""
    await layer.send(channel, {"type": "telephony.request_failed", "message": message})


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


# Calls per snapshot message: a floor of 5,000 calls in one message would
# be megabytes to copy (in-memory layer) or encode (Redis) in one go.
SNAPSHOT_PART_CALLS = 500


async def send_snapshot(
    layer: Any,
    *,
    channel: str,
    epoch: str,
    seq: int,
    calls: list[CallView],
    agents: list[AgentView],
    status: JsonDict,
    alerts: list[JsonDict] | None = None,
    attention: list[JsonDict] | None = None,
    queues: list[JsonDict] | None = None,
) -> None:
    """Answer a snapshot request: calls and agents as of `seq`, and the
    worker status, in parts of SNAPSHOT_PART_CALLS calls and twice as many
    agents (at least one part)."""
    size = SNAPSHOT_PART_CALLS
    parts = max(1, -(-len(calls) // size), -(-len(agents) // (2 * size)))
    for part in range(parts):
        message: SnapshotSent = {
            "type": "telephony.snapshot_sent",
            "epoch": epoch,
            "seq": seq,
            "part": part + 1,
            "parts": parts,
            "calls": calls[part * size : (part + 1) * size],
            "agents": agents[part * 2 * size : (part + 1) * 2 * size],
            "alerts": (alerts or []) if part == 0 else [],
            "attention": (attention or []) if part == 0 else [],
            "queues": (queues or []) if part == 0 else [],
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
    user_id: int | None = None,
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
        "user_id": user_id,
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


# --- access -------------------------------------------------------------------


class AccessRevoked(TypedDict):
    type: Literal["telephony.access_revoked"]
    user_id: str | None  # every console of this user
    session_key: str | None  # the consoles opened with this login session
    reason: str


async def revoke_access(
    layer: Any,
    *,
    reason: str,
    user_id: Any = None,
    session_key: str | None = None,
) -> None:
    """Close the consoles of a user or of a login session now (logout,
    deactivation, a new password, a deleted session): told to every
    dashboard process's live feed (one group member per process, so a
    thousand consoles cost nothing extra), which closes its own."""
    message: AccessRevoked = {
        "type": "telephony.access_revoked",
        "user_id": None if user_id is None else str(user_id),
        "session_key": session_key,
        "reason": reason,
    }
    await layer.group_send(SUPERVISORS, message)


class AccessChanged(TypedDict):
    type: Literal["telephony.access_changed"]
    user_ids: list[str]  # every console of these users looks again


async def change_access(layer: Any, *, user_ids: Any) -> None:
    """Some users' permissions changed (a role given or taken, a group's
    permissions edited): each dashboard process's live feed has its
    consoles of those users read their permissions again, then close
    (no view permission left) or redraw their buttons."""
    message: AccessChanged = {
        "type": "telephony.access_changed",
        "user_ids": sorted({str(user_id) for user_id in user_ids}),
    }
    await layer.group_send(SUPERVISORS, message)


class WallChanged(TypedDict):
    type: Literal["telephony.wall_changed"]
    wall_id: str  # the wall token's id (dashboard.models.WallToken)


async def change_wall(layer: Any, *, wall_id: Any) -> None:
    """A wall token was revoked, edited or deleted: every dashboard
    process's live feed has its walls of that token read it again, then
    close (revoked, expired, gone) or follow its new settings."""
    message: WallChanged = {"type": "telephony.wall_changed", "wall_id": str(wall_id)}
    await layer.group_send(SUPERVISORS, message)
